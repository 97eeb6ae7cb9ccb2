"""worker/supervisor.py: the slot's thread copies the output while it waits, whatever else waits."""

from __future__ import annotations

import time
from pathlib import Path

from headrace.states import Result
from headrace.store.records import Attempt
from headrace.worker.supervisor import KillSwitch, run_attempt
from support import running_attempt

# Sleeps past the pid's recording (0.2 s), then writes far more than a pipe holds.
CHATTY = "sleep 0.4; head -c 1000000 /dev/zero | tr '\\0' x; echo; echo done"


def _attempt(command: str, timeout_seconds: int | None = None) -> Attempt:
    payload = {
        "task_key": "talk",
        "task_type": "shell_command_task",
        "settings": {"command": command},
        "run_id": 1001,
        "job_id": 1,
        "task_run_id": 5001,
        "attempt_number": 0,
        "parameters": {},
        "task_values": {},
        "timeout_seconds": timeout_seconds,
    }
    return running_attempt(payload)


def test_output_is_copied_while_the_pid_is_being_recorded(tmp_path: Path) -> None:
    log_path = tmp_path / "logs" / "1001" / "talk" / "5001-0" / "output.log"
    seen: dict[str, object] = {}

    def slow_record_pid(pid: int) -> None:
        # A store that answers slowly: the task must not wait for it to go on writing.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if log_path.read_bytes().endswith(b"done\n"):
                seen["task_done_first"] = True
                return
            time.sleep(0.05)

    outcome = run_attempt(_attempt(CHATTY), tmp_path / "logs", KillSwitch(), slow_record_pid)

    assert outcome.result == Result.SUCCESS, outcome
    assert seen.get("task_done_first"), "the task's output waited for the pid's recording"
    lines = log_path.read_text().splitlines()
    assert lines == ["x" * 1_000_000, "done"]


def test_a_quick_task_records_no_pid(tmp_path: Path) -> None:
    recorded: list[int] = []
    outcome = run_attempt(_attempt("true"), tmp_path / "logs", KillSwitch(), recorded.append)
    assert outcome.result == Result.SUCCESS, outcome
    assert recorded == []


def test_a_timeout_ends_the_group_and_keeps_the_output(tmp_path: Path) -> None:
    recorded: list[int] = []
    attempt = _attempt("echo before; sleep 30; echo never", timeout_seconds=1)
    started = time.monotonic()
    outcome = run_attempt(attempt, tmp_path / "logs", KillSwitch(), recorded.append)
    assert time.monotonic() - started < 10
    assert outcome.result == Result.TIMEDOUT, outcome
    assert len(recorded) == 1
    log_path = tmp_path / "logs" / "1001" / "talk" / "5001-0" / "output.log"
    assert log_path.read_text() == "before\n"
