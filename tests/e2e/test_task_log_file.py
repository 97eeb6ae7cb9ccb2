"""A task's log file with and without secrets to redact (issue 18: no pipe when none).

With no secret in the data directory's secrets folder, the task's process writes its log file
itself; with one, its output goes through the redacting pipe. Both must give the same log:
stdout and stderr in order, the last line as the error of a failed task.
"""

from __future__ import annotations

from support import Headrace

from .helpers import task

SCRIPT = "echo first; echo second-s3cr3t-value >&2; echo last-line; exit 3"
JOB = f"""
name: logs
tasks:
  - task_key: talk
    shell_command_task:
      command: "{SCRIPT}"
"""


def _run_and_read_log(hr: Headrace) -> tuple[dict, str]:
    job = hr.write("job.yml", JOB)
    _, run = hr.run_json(job, expect=1)
    log = hr("runs", "logs", str(run["run_id"]), "talk")
    assert log.returncode == 0, str(log)
    return task(run, "talk"), log.stdout


def test_without_secrets_the_task_writes_its_log_itself(hr: Headrace) -> None:
    talk, log = _run_and_read_log(hr)

    assert log.splitlines()[-3:] == ["first", "second-s3cr3t-value", "last-line"]
    assert talk["state"]["result_state"] == "FAILED"
    assert "last-line" in talk["attempts"][-1]["error"], talk
    assert "exit code 3" in talk["attempts"][-1]["error"], talk


def test_with_a_secret_the_log_is_redacted(hr: Headrace) -> None:
    scope = hr.home / "secrets" / "app"
    scope.mkdir(parents=True)
    (scope / "token").write_text("s3cr3t-value\n")

    talk, log = _run_and_read_log(hr)

    assert log.splitlines()[-3:] == ["first", "second-[REDACTED]", "last-line"]
    assert "s3cr3t-value" not in log
    assert "exit code 3" in talk["attempts"][-1]["error"], talk
