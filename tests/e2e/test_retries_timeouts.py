"""Retries (with their own logs and intervals), task timeouts and the job timeout."""

from __future__ import annotations

import itertools
import time

import pytest

from support import Headrace, pid_alive, read_pid, wait_dead

from .helpers import attempts, result_of, task


def test_task_retried_until_it_succeeds_with_one_log_per_attempt(hr: Headrace) -> None:
    count = hr.dir / "count"
    job = hr.write(
        "flaky.yml",
        f"""
        name: flaky
        tasks:
          - task_key: flaky
            max_retries: 3
            min_retry_interval_millis: 500
            shell_command_task:
              command: |
                n=$(cat {count} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {count}
                echo "try number $n"
                if [ $n -lt 3 ]; then echo "flaky failure $n" >&2; exit 1; fi
                echo "finally ok"
        """,
    )
    _, run = hr.run_json(job, expect=0)
    assert result_of(run) == "SUCCESS"
    flaky = task(run, "flaky")
    assert result_of(flaky) == "SUCCESS"
    tries = attempts(flaky)
    assert [a["attempt_number"] for a in tries] == [0, 1, 2]
    assert [a["result_state"] for a in tries] == ["FAILED", "FAILED", "SUCCESS"]
    assert "flaky failure 1" in tries[0]["error"]
    assert "flaky failure 2" in tries[1]["error"]
    assert len({a["log_path"] for a in tries}) == 3
    for before, after in itertools.pairwise(tries):
        assert after["start_time"] - before["start_time"] >= 500, tries
    assert count.read_text().strip() == "3"

    run_id = str(run["run_id"])
    logs = [hr("runs", "logs", run_id, "flaky", "--attempt", str(i)) for i in range(3)]
    for i, log in enumerate(logs):
        assert log.returncode == 0, str(log)
        assert f"try number {i + 1}" in log.stdout
        assert log.stdout.count("try number") == 1, log.stdout
    assert "flaky failure 1" in logs[0].stdout
    assert "finally ok" in logs[2].stdout and "finally ok" not in logs[1].stdout
    latest = hr("runs", "logs", run_id, "flaky")
    assert latest.stdout == logs[2].stdout
    missing = hr("runs", "logs", run_id, "flaky", "--attempt", "3")
    assert missing.returncode == 3, str(missing)


def test_retries_exhausted_fails_the_run_with_the_error(hr: Headrace) -> None:
    job = hr.write(
        "doomed.yml",
        """
        name: doomed
        tasks:
          - task_key: doomed
            max_retries: 1
            shell_command_task:
              command: |
                echo "working..."
                echo "disk quota exceeded on /data" >&2
                exit 7
        """,
    )
    result, run = hr.run_json(job)
    assert result.returncode == 1, str(result)
    assert run["state"]["life_cycle_state"] == "TERMINATED"
    assert result_of(run) == "FAILED"
    assert "doomed" in run["state"]["state_message"]
    doomed = task(run, "doomed")
    assert result_of(doomed) == "FAILED"
    assert "disk quota exceeded on /data" in doomed["state"]["state_message"]
    tries = attempts(doomed)
    assert [a["result_state"] for a in tries] == ["FAILED", "FAILED"]
    assert [a["exit_code"] for a in tries] == [7, 7]
    assert all("disk quota exceeded on /data" in a["error"] for a in tries)


def test_failed_run_state_message_carries_the_task_error(hr: Headrace) -> None:
    """Like Databricks' "Task x failed with message: ...": the run says why, not only who."""
    job = hr.write(
        "doomed.yml",
        """
        name: doomed
        tasks:
          - task_key: doomed
            shell_command_task: {command: "echo 'disk quota exceeded on /data' >&2; exit 7"}
        """,
    )
    _, run = hr.run_json(job, expect=1)
    message = run["state"]["state_message"]
    assert "doomed" in message and "disk quota exceeded on /data" in message, message


def test_task_timeout_kills_the_whole_process_tree(hr: Headrace, reap: list[int]) -> None:
    child = hr.dir / "child.pid"
    job = hr.write(
        "hang.yml",
        f"""
        name: hang
        tasks:
          - task_key: hang
            timeout_seconds: 1
            shell_command_task:
              command: |
                sleep 30 &
                echo $! > {child}
                sleep 30
          - task_key: after
            depends_on: [{{task_key: hang}}]
            shell_command_task: {{command: echo after}}
        """,
    )
    started = time.monotonic()
    result, run = hr.run_json(job)
    elapsed = time.monotonic() - started
    pid = read_pid(child, timeout=1)
    reap.append(pid)
    # A task timeout is a failed leaf for the run (reference §6.2); the task itself is TIMEDOUT.
    assert result.returncode == 1, str(result)
    assert result_of(run) == "FAILED"
    hang = task(run, "hang")
    assert result_of(hang) == "TIMEDOUT"
    assert [a["result_state"] for a in attempts(hang)] == ["TIMEDOUT"]
    assert "timed out" in hang["state"]["state_message"]
    assert result_of(task(run, "after")) == "UPSTREAM_FAILED"
    assert elapsed < 10
    wait_dead(pid, timeout=5)


@pytest.mark.parametrize(("retry_on_timeout", "expected"), [(True, 2), (False, 1)])
def test_retry_on_timeout(hr: Headrace, retry_on_timeout: bool, expected: int) -> None:
    job = hr.write(
        "slow.yml",
        f"""
        name: slow
        tasks:
          - task_key: slow
            timeout_seconds: 1
            max_retries: 1
            retry_on_timeout: {str(retry_on_timeout).lower()}
            shell_command_task: {{command: "echo attempt $HEADRACE_ATTEMPT_NUMBER; sleep 30"}}
        """,
    )
    result, run = hr.run_json(job)
    assert result.returncode == 1, str(result)
    slow = task(run, "slow")
    assert result_of(slow) == "TIMEDOUT"
    assert [a["result_state"] for a in attempts(slow)] == ["TIMEDOUT"] * expected
    assert [a["attempt_number"] for a in attempts(slow)] == list(range(expected))


def test_job_timeout_cancels_the_running_task(hr: Headrace, reap: list[int]) -> None:
    child = hr.dir / "child.pid"
    job = hr.write(
        "job-timeout.yml",
        f"""
        name: job-timeout
        timeout_seconds: 1
        tasks:
          - task_key: long
            shell_command_task:
              command: |
                sleep 30 &
                echo $! > {child}
                wait
          - task_key: after
            depends_on: [{{task_key: long}}]
            shell_command_task: {{command: echo after}}
        """,
    )
    started = time.monotonic()
    result, run = hr.run_json(job)
    elapsed = time.monotonic() - started
    pid = read_pid(child, timeout=1)
    reap.append(pid)
    assert result.returncode == 10, str(result)
    assert elapsed < 10
    assert run["state"]["life_cycle_state"] == "TERMINATED"
    assert result_of(run) == "TIMEDOUT"
    assert run["state"]["user_cancelled_or_timedout"] is True
    assert "timeout" in run["state"]["state_message"]
    assert result_of(task(run, "long")) == "CANCELED"
    assert result_of(task(run, "after")) == "UPSTREAM_CANCELED"
    assert not attempts(task(run, "after"))
    wait_dead(pid, timeout=5)
    assert not pid_alive(pid)
