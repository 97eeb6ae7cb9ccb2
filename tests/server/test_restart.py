"""Stopping the server: SIGTERM drains running tasks; after kill -9 a restart takes runs over."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from databricks.sdk.service import jobs

from support import Server, pid_alive, read_pid, settle, shell

from .helpers import raw_run, task_of, wait_task_running


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[Server]:
    """A server of the test's own, which the test may stop, kill and start again."""
    srv = Server(tmp_path / "srv", workers=2, grace_seconds=10)
    try:
        srv.start()
        yield srv
    finally:
        srv.close()


def test_sigterm_waits_for_the_running_task(
    own_server: Server, tmp_path: Path, reap: list[int]
) -> None:
    srv = own_server
    w = srv.client(srv.token("alice"))
    pid_file, finished = tmp_path / "task.pid", tmp_path / "finished"
    job_id = w.jobs.create(
        name="restart-drain",
        tasks=[shell("five", f"echo $$ > {pid_file}; sleep 5; touch {finished}")],
    ).job_id
    run_id = w.jobs.run_now(job_id).run_id
    reap.append(read_pid(pid_file))
    wait_task_running(w, run_id, "five")

    t0 = time.monotonic()
    code = srv.stop(signal.SIGTERM, timeout=20)
    waited = time.monotonic() - t0

    assert code == 0, srv.log()
    assert finished.exists(), "the task was stopped before its end"
    assert waited >= 3.5, f"the server exited {waited:.1f} s after SIGTERM, before its task ended"
    assert waited < 10, f"the server took {waited:.1f} s to exit after its task ended"

    srv.start()
    run = w.jobs.get_run(run_id)
    assert run.state.life_cycle_state == jobs.RunLifeCycleState.TERMINATED
    assert run.state.result_state == jobs.RunResultState.SUCCESS, run.state
    assert task_of(run, "five").state.result_state == jobs.RunResultState.SUCCESS
    assert task_of(run, "five").attempt_number == 0, "the task ran once"


def test_after_kill_9_a_restarted_server_takes_the_run_over(
    own_server: Server, tmp_path: Path, reap: list[int]
) -> None:
    srv = own_server
    w = srv.client(srv.token("alice"))
    quick, pid_file, after = tmp_path / "quick", tmp_path / "task.pid", tmp_path / "after"
    job_id = w.jobs.create(
        name="restart-kill",
        tasks=[
            shell(
                "slow",
                f"""
                if [ -f {quick} ]; then echo "the retry was quick"; exit 0; fi
                echo $$ > {pid_file}
                exec sleep 30
                """,
                max_retries=1,
            ),
            shell("after", f"touch {after}", depends_on=[jobs.TaskDependency(task_key="slow")]),
        ],
    ).job_id
    run_id = w.jobs.run_now(job_id).run_id
    pid = read_pid(pid_file)
    reap.append(pid)
    wait_task_running(w, run_id, "slow")
    time.sleep(0.5)  # the worker records the attempt's pid just after starting it
    quick.touch()

    srv.kill()
    assert pid_alive(pid), "the task process lives in its own session"
    srv.start()

    run = settle(w, run_id, timeout=30)
    assert run.state.life_cycle_state == jobs.RunLifeCycleState.TERMINATED
    assert run.state.result_state == jobs.RunResultState.SUCCESS, (run.state, srv.log())
    slow = task_of(run, "slow")
    assert slow.state.result_state == jobs.RunResultState.SUCCESS
    assert slow.attempt_number == 1
    assert task_of(run, "after").state.result_state == jobs.RunResultState.SUCCESS
    assert after.exists()

    attempts = raw_run(w, run_id)["tasks"][0]["attempts"]
    assert [a["result_state"] for a in attempts] == ["FAILED", "SUCCESS"]
    assert "worker lost" in attempts[0]["error"], attempts[0]
    assert "the retry was quick" in w.jobs.get_run_output(slow.run_id).logs
    # The lost attempt must not go on running next to its retry.
    assert not pid_alive(pid), "the lost attempt's process must not run on next to its retry"
