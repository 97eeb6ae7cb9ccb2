"""worker/process_watch.py: a task's exit and output watched on one thread (and the fallback)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from headrace.runtime.secrets import Redactor
from headrace.worker.process_watch import ProcessWatch, ThreadWatch

Watch = Callable[[subprocess.Popen, object, Redactor], ProcessWatch | ThreadWatch]
WATCHES = [pytest.param(ProcessWatch, id="pidfd"), pytest.param(ThreadWatch, id="thread")]


def _start(script: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", script],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _watch(make: Watch, proc: subprocess.Popen, log_path: Path, secrets: list[str]):
    log = open(log_path, "wb")  # noqa: SIM115 - closed by the test after close()
    return make(proc, log, Redactor(set(secrets))), log


@pytest.mark.parametrize("make", WATCHES)
def test_output_in_order_redacted_and_exit_seen(make: Watch, tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "print('first', flush=True)\n"
        "print('the token is s3cr3t-value', file=sys.stderr, flush=True)\n"
        "sys.stdout.write('x' * 200000 + '\\n')\n"  # more than a pipe holds
        "print('last')\n"
        "sys.exit(3)\n"
    )
    proc = _start(script)
    watch, log = _watch(make, proc, tmp_path / "output.log", ["s3cr3t-value"])
    assert watch.wait(30)
    watch.close()
    log.close()

    assert proc.returncode == 3
    lines = (tmp_path / "output.log").read_text().splitlines()
    assert lines[:2] == ["first", "the token is [REDACTED]"]
    assert lines[2] == "x" * 200000
    assert lines[3:] == ["last"]
    assert watch.error is None


@pytest.mark.parametrize("make", WATCHES)
def test_a_timeout_returns_false_and_the_wait_can_go_on(make: Watch, tmp_path: Path) -> None:
    proc = _start("import time; print('up', flush=True); time.sleep(0.5); print('done')")
    watch, log = _watch(make, proc, tmp_path / "output.log", [])
    started = time.monotonic()
    assert not watch.wait(0.05)
    assert time.monotonic() - started < 0.4
    assert watch.wait(30)
    assert watch.wait(0)  # once exited, always exited
    watch.close()
    log.close()
    assert (tmp_path / "output.log").read_text() == "up\ndone\n"


@pytest.mark.parametrize("make", WATCHES)
def test_output_of_a_process_that_outlives_the_task_is_drained(make: Watch, tmp_path: Path) -> None:
    # The task's process exits at once; a child it started (in a new session: a kill of the
    # task's group misses it) keeps the pipe and writes later, then exits.
    child = "import time; time.sleep(0.3); print('late', flush=True)"
    script = (
        "import subprocess, sys\n"
        f"subprocess.Popen([sys.executable, '-c', {child!r}], start_new_session=True)\n"
        "print('early', flush=True)\n"
    )
    proc = _start(script)
    watch, log = _watch(make, proc, tmp_path / "output.log", [])
    assert watch.wait(30)
    watch.close(drain_seconds=10)
    log.close()
    assert (tmp_path / "output.log").read_text() == "early\nlate\n"


@pytest.mark.parametrize("make", WATCHES)
def test_draining_stops_after_its_limit(make: Watch, tmp_path: Path) -> None:
    child = "import time; time.sleep(30)"
    script = (
        "import subprocess, sys\n"
        f"p = subprocess.Popen([sys.executable, '-c', {child!r}], start_new_session=True)\n"
        "print(p.pid, flush=True)\n"
    )
    proc = _start(script)
    watch, log = _watch(make, proc, tmp_path / "output.log", [])
    try:
        assert watch.wait(30)
        started = time.monotonic()
        watch.close(drain_seconds=0.2)
        assert time.monotonic() - started < 5
    finally:
        log.close()
        pid = int((tmp_path / "output.log").read_text())
        subprocess.run(["kill", "-9", str(pid)], check=False)


def test_a_failing_log_write_is_remembered_and_the_pipe_still_read(tmp_path: Path) -> None:
    class FullDisk:
        def write(self, data: bytes) -> int:
            raise OSError(28, "No space left on device")

        def flush(self) -> None:
            pass

    proc = _start("import sys; sys.stdout.write('y' * 300000)")
    watch = ProcessWatch(proc, FullDisk(), Redactor(set()))  # type: ignore[arg-type]
    assert watch.wait(30)  # the task did not block on a full pipe
    watch.close()
    assert watch.error is not None and watch.error.errno == 28
