"""A full logs disk (issue 11, 2.8): the task's error names the cause, no supervisor traceback.

The disk is real: a 256 KiB tmpfs mounted over HEADRACE_HOME/logs in a private mount namespace
(`unshare --mount`, as root or in a user namespace), with the store outside it. A task prints
far more than fits; the next task starts with no space left at all.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

from support import HEADRACE

from .bounded import limits


def _unshare_prefix() -> list[str] | None:
    """The unshare command that lets us mount a tmpfs, or None where none can."""
    tool = shutil.which("unshare")
    if tool is None:
        return None
    options = [["--mount"]] if os.geteuid() == 0 else []
    options.append(["--user", "--map-root-user", "--mount"])
    for flags in options:
        probe = subprocess.run(
            [tool, *flags, "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
            capture_output=True,
            timeout=30,
        )
        if probe.returncode == 0:
            return [tool, *flags]
    return None


UNSHARE = _unshare_prefix()
needs_mount = pytest.mark.skipif(UNSHARE is None, reason="cannot mount a tmpfs here (unshare)")


@needs_mount
def test_a_full_logs_disk_names_the_cause_without_tracebacks(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "logs").mkdir(parents=True)
    job = tmp_path / "job.yml"
    job.write_text(
        textwrap.dedent(
            """
            name: spam
            tasks:
              - task_key: t
                shell_command_task:
                  command: "for i in $(seq 1 100000); do echo log line that is long $i; done"
              - task_key: u
                depends_on: [{task_key: t}]
                run_if: ALL_DONE
                shell_command_task: {command: "echo hi"}
            """
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADRACE_")}
    env.update(HEADRACE_HOME=str(home), HEADRACE_DB=str(tmp_path / "store.db"), COLUMNS="200")
    script = f'mount -t tmpfs -o size=256k tmpfs {home / "logs"} && exec "$@"'
    assert UNSHARE is not None
    proc = subprocess.run(
        [*UNSHARE, "sh", "-c", script, "sh", *HEADRACE, "run", str(job), "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        stdin=subprocess.DEVNULL,
        preexec_fn=limits(),
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output  # the run failed (exit code = result), it did not crash
    assert "Traceback" not in output, output
    run = json.loads(proc.stdout)
    errors = {t["task_key"]: t["state"].get("state_message", "") for t in run["tasks"]}
    assert "No space left on device" in errors["t"], errors  # before: "log lin (exit code 1)"
    assert "No space left on device" in errors["u"], errors  # before: an internal error
    assert run["state"]["life_cycle_state"] == "TERMINATED"
