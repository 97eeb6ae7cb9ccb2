"""max_concurrent_runs with the queue on (the 2.2 default) and off (reference §6.11)."""

from __future__ import annotations

import itertools
from pathlib import Path

from databricks.sdk.service import jobs

from support import User, settle, shell, wait_for

from .helpers import wait_task_running


def _blocking_job(user: User, name: str, release: Path, **settings: object) -> int:
    return user.w.jobs.create(
        name=name,
        max_concurrent_runs=1,
        tasks=[shell("t", f"while [ ! -f {release} ]; do sleep 0.05; done")],
        **settings,
    ).job_id


def test_a_second_run_waits_queued_then_runs(alice: User, files: Path) -> None:
    w = alice.w
    release = files / "release"
    job_id = _blocking_job(alice, "queue-on", release)
    first = w.jobs.run_now(job_id).run_id
    try:
        wait_task_running(w, first, "t")
        second = w.jobs.run_now(job_id).run_id
        third = w.jobs.run_now(job_id).run_id
        queued = w.jobs.get_run(second)
        assert queued.state.life_cycle_state == jobs.RunLifeCycleState.QUEUED, queued.state
        assert queued.status.state == jobs.RunLifecycleStateV2State.QUEUED
        active = w.jobs.list_runs(job_id=job_id, active_only=True)
        assert [r.run_id for r in active] == [third, second, first]
        assert w.jobs.get_run(first).state.life_cycle_state == jobs.RunLifeCycleState.RUNNING
    finally:
        release.touch()

    runs = [settle(w, run_id) for run_id in (first, second, third)]
    assert [r.state.result_state for r in runs] == [jobs.RunResultState.SUCCESS] * 3
    # One at a time, first in first out.
    for before, after in itertools.pairwise(runs):
        assert after.tasks[0].start_time >= before.end_time, (before, after)


def test_with_the_queue_disabled_a_second_run_is_skipped(alice: User, files: Path) -> None:
    w = alice.w
    release = files / "release"
    job_id = _blocking_job(alice, "queue-off", release, queue=jobs.QueueSettings(enabled=False))
    first = w.jobs.run_now(job_id).run_id
    try:
        wait_task_running(w, first, "t")
        skipped = w.jobs.run_now(job_id).result()  # SKIPPED ends the SDK's wait
        assert skipped.run_id != first
        assert skipped.state.life_cycle_state == jobs.RunLifeCycleState.SKIPPED
        assert skipped.state.result_state == jobs.RunResultState.MAXIMUM_CONCURRENT_RUNS_REACHED
        # A per-run queue setting overrides the job's.
        queued = w.jobs.run_now(job_id, queue=jobs.QueueSettings(enabled=True)).run_id
        wait_for(
            lambda: w.jobs.get_run(queued).state.life_cycle_state == jobs.RunLifeCycleState.QUEUED,
            5,
            "the run to be queued",
        )
    finally:
        release.touch()
    assert settle(w, first).state.result_state == jobs.RunResultState.SUCCESS
    assert settle(w, queued).state.result_state == jobs.RunResultState.SUCCESS
    assert w.jobs.get_run(skipped.run_id).state.life_cycle_state == jobs.RunLifeCycleState.SKIPPED


def test_jobs_created_through_2_1_do_not_queue_by_default(alice: User) -> None:
    w = alice.w
    body = {
        "name": "queue-2.1",
        "tasks": [{"task_key": "t", "shell_command_task": {"command": "true"}}],
    }
    old = w.api_client.do("POST", "/api/2.1/jobs/create", body=body)["job_id"]
    new = w.api_client.do("POST", "/api/2.2/jobs/create", body=body)["job_id"]
    assert w.jobs.get(old).settings.queue.enabled is False
    assert w.jobs.get(new).settings.queue is None or w.jobs.get(new).settings.queue.enabled
    # An explicit setting wins, and reset through 2.1 applies the same default.
    explicit = {**body, "queue": {"enabled": True}}
    kept = w.api_client.do("POST", "/api/2.1/jobs/create", body=explicit)["job_id"]
    assert w.jobs.get(kept).settings.queue.enabled is True
    w.api_client.do("POST", "/api/2.1/jobs/reset", body={"job_id": kept, "new_settings": body})
    assert w.jobs.get(kept).settings.queue.enabled is False
