"""A task's log file with and without secrets to redact.

The task's output always goes through the worker's pipe (redacting when there are secrets).
Both must give the same log: stdout and stderr in order, the last line as the error of a failed
task. A task that reopens its output by path (`> /dev/stderr`) must not truncate what it wrote
before, which it did when it was given the log file itself.
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


def test_without_secrets_the_log_keeps_stdout_and_stderr_in_order(hr: Headrace) -> None:
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


def test_output_reopened_by_path_does_not_truncate_the_log(hr: Headrace) -> None:
    job = hr.write(
        "reopen.yml",
        """
        name: reopen
        tasks:
          - task_key: talk
            shell_command_task:
              command: "echo line-one; echo line-two; echo warn > /dev/stderr; echo line-four"
        """,
    )
    _, run = hr.run_json(job, expect=0)
    log = hr("runs", "logs", str(run["run_id"]), "talk")
    assert log.returncode == 0, str(log)
    assert log.stdout.splitlines()[-4:] == ["line-one", "line-two", "warn", "line-four"]
    assert "\x00" not in log.stdout
