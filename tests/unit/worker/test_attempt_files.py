"""worker/supervisor.py's files of an attempt (made with plain `os` calls and string paths,
issue 18): folders, the paths a task is given, secrets read per attempt, output read back, and
engine/logs.pack_log's empty log."""

from __future__ import annotations

import gzip
import json
import os
import stat
import sys
from pathlib import Path

import pytest

from headrace.engine.coordinator import AttemptOutcome
from headrace.engine.logs import pack_log
from headrace.states import Result
from headrace.store.records import Attempt
from headrace.worker.log_pipe import redactor_for
from headrace.worker.supervisor import KillSwitch, _read_if_there, attempt_dir, run_attempt
from support import running_attempt

# The task writes what it was given (paths, its context) next to its log, plus its own files.
REPORT = (
    "import json, os\n"
    "keys = ['HEADRACE_CONTEXT', 'HEADRACE_TASK_VALUES', 'HEADRACE_OUTPUT']\n"
    "seen = {k: os.environ[k] for k in keys}\n"
    "seen['context'] = json.load(open(os.environ['HEADRACE_CONTEXT']))\n"
    "open(os.environ['HEADRACE_TASK_VALUES'], 'w').write(json.dumps({'n': 1}))\n"
    "open(os.environ['HEADRACE_OUTPUT'], 'w').write(json.dumps({'said': 'hi'}))\n"
    "print(json.dumps(seen))\n"
)


def _attempt(run_id: int, task_key: str, command: str, **payload: object) -> Attempt:
    return running_attempt(
        {
            "task_key": task_key,
            "task_type": "shell_command_task",
            "settings": {"command": command},
            "run_id": run_id,
            "job_id": 1,
            "task_run_id": run_id * 10,
            "attempt_number": 0,
            "parameters": {"p": "v"},
            "task_values": {},
            **payload,
        }
    )


def _run(attempt: Attempt, logs: Path) -> AttemptOutcome:
    return run_attempt(attempt, logs, KillSwitch(), lambda pid: None)


def test_folders_paths_and_files_of_attempts(tmp_path: Path) -> None:
    logs = tmp_path / "new" / "logs"  # not there yet: made for its owner only
    script = tmp_path / "report.py"
    script.write_text(REPORT)
    first = _attempt(1001, "a", f"{sys.executable} {script}")
    outcome = _run(first, logs)
    assert outcome.result is Result.SUCCESS, outcome
    assert stat.S_IMODE(logs.stat().st_mode) == 0o700
    folder = attempt_dir(logs, first)
    assert folder == logs / "1001" / "a" / "10010-0"
    seen = json.loads((folder / "output.log").read_text())
    assert seen["HEADRACE_CONTEXT"] == str(folder / "context.json")
    assert seen["HEADRACE_TASK_VALUES"] == str(folder / "task_values.json")
    assert seen["HEADRACE_OUTPUT"] == str(folder / "output.json")
    assert seen["context"]["parameters"] == {"p": "v"} and seen["context"]["task_key"] == "a"
    assert outcome.task_values == {"n": 1}
    assert outcome.output is not None and outcome.output["said"] == "hi"

    # Another task of the same run, then an iteration of a for_each task in a new run.
    second = _attempt(1001, "b", "true")
    assert _run(second, logs).result is Result.SUCCESS
    third = _attempt(1002, "c", "true", iteration=3)
    assert _run(third, logs).result is Result.SUCCESS
    assert (logs / "1001" / "b" / "10010-0" / "context.json").is_file()
    assert (logs / "1002" / "c[3]" / "10020-0" / "output.log").is_file()
    assert _run(third, logs).result is Result.SUCCESS  # the same folder again: no error


def test_a_task_that_cannot_start_says_so_in_its_log(tmp_path: Path) -> None:
    attempt = _attempt(1003, "d", "true", task_type="no_such_type")
    outcome = _run(attempt, tmp_path / "logs")
    assert outcome.result is Result.FAILED
    log = (attempt_dir(tmp_path / "logs", attempt) / "output.log").read_text()
    assert log.startswith("cannot start task:")


def test_secrets_are_read_for_each_attempt(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {"HEADRACE_HOME": str(home)}
    assert not redactor_for(env)  # no secrets folder: nothing to redact
    scope = home / "secrets" / "scope"
    scope.mkdir(parents=True)
    (scope / "key").write_text("s3cr3t-value\n")
    assert redactor_for(env).values == ("s3cr3t-value",)  # appeared since: seen
    explicit = tmp_path / "elsewhere"
    (explicit / "s").mkdir(parents=True)
    (explicit / "s" / "k").write_text("other-secret")
    both = {**env, "HEADRACE_SECRETS_DIR": str(explicit)}
    assert redactor_for(both).values == ("other-secret",)


def test_files_read_back(tmp_path: Path) -> None:
    assert _read_if_there(tmp_path / "missing.json") is None
    (tmp_path / "big").write_bytes(b"x" * (3 << 20))
    assert _read_if_there(str(tmp_path / "big")) == b"x" * (3 << 20)
    with pytest.raises(IsADirectoryError):  # as Path.read_bytes: not "no file"
        _read_if_there(tmp_path)


def test_pack_log_of_empty_missing_and_written_logs(tmp_path: Path) -> None:
    empty = tmp_path / "empty.log"
    empty.touch()
    assert pack_log(empty) is None
    assert pack_log(tmp_path / "missing.log") is None
    written = tmp_path / "written.log"
    written.write_bytes(b"line\n" * 10)
    packed = pack_log(str(written))
    assert packed is not None and gzip.decompress(packed[0]) == b"line\n" * 10
    assert packed[1] == 50
    os.chmod(written, 0)
    if os.geteuid() != 0:  # root reads it anyway
        assert pack_log(written) is None


@pytest.mark.parametrize("size", [1, 100, 511, 512, 513, 5000, 40_000, 200_000])
def test_packed_logs_are_gzip_of_the_log_whatever_its_size(tmp_path: Path, size: int) -> None:
    import io
    import random

    rng = random.Random(size)
    words = [b"INFO", b"rows=", b"42", b"\n", b"done", b"\xc3\xa9t\xc3\xa9", b"[REDACTED]"]
    data = b" ".join(rng.choice(words) for _ in range(size))[:size]
    path = tmp_path / "output.log"
    path.write_bytes(data)
    packed = pack_log(path)
    assert packed is not None and packed[1] == size
    assert gzip.decompress(packed[0]) == data
    with gzip.GzipFile(fileobj=io.BytesIO(packed[0])) as f:  # any gzip reader
        assert f.read() == data
    # No worse than the standard library's own gzip at the same level (a few bytes).
    assert len(packed[0]) <= len(gzip.compress(data, compresslevel=5)) + 8


def test_a_long_log_keeps_its_end(tmp_path: Path) -> None:
    from headrace.engine.logs import MAX_STORED_LOG_BYTES

    path = tmp_path / "output.log"
    head = b"h" * 1000
    tail = bytes(range(256)) * (MAX_STORED_LOG_BYTES // 256)
    path.write_bytes(head + tail)
    packed = pack_log(path)
    assert packed is not None and packed[1] == len(head) + len(tail)
    kept = gzip.decompress(packed[0])
    assert kept.startswith(b"[headrace: the log was longer") and kept.endswith(tail)
    assert len(kept) - kept.index(b"\n") - 1 == MAX_STORED_LOG_BYTES
