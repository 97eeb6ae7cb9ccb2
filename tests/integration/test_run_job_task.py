"""run_job_task: the child run is linked to its parent task run, and its result decides it."""

from __future__ import annotations

import json

from headrace.states import Result
from headrace.store import jobs as job_store

from .helpers import api, claim, finish, job, shell


def _store_job(store, settings) -> int:
    data = json.loads(settings.model_dump_json(exclude_none=True))
    with store.begin() as conn:
        return job_store.create_job(conn, data, now_ms=0)


def _parent(child_id: int, **task):
    return job(
        {
            "task_key": "call",
            "run_job_task": {"job_id": child_id, "job_parameters": {"day": "{{job.run_id}}"}},
            **task,
        },
        shell("after", "call"),
    )


def _child():
    return job(shell("work"), parameters=[{"name": "day", "default": "none"}])


def test_child_run_success_makes_the_task_succeed(store, coordinator):
    child_job = _store_job(store, _child())
    parent = coordinator.start_run(_parent(child_job), job_id=None)
    view = api(store, parent)
    call = view["tasks"][0]
    child_run = call["resolved_values"]["run_job_output"]["run_id"]
    assert call["state"]["life_cycle_state"] == "RUNNING"

    child = api(store, child_run)
    assert child["trigger"] == "RUN_JOB_TASK"
    assert child["trigger_info"]["run_id"] == call["run_id"]
    assert child["job_parameters"] == [{"name": "day", "default": "none", "value": str(parent)}]

    work = claim(coordinator)
    assert work.run_id == child_run
    finish(coordinator, work)
    assert api(store, child_run)["state"]["result_state"] == "SUCCESS"
    assert api(store, parent)["tasks"][0]["state"]["result_state"] == "SUCCESS"
    after = claim(coordinator)
    assert after.payload["task_key"] == "after"
    finish(coordinator, after)
    assert api(store, parent)["state"]["result_state"] == "SUCCESS"


def test_child_run_failure_fails_the_task_with_its_message(store, coordinator):
    child_job = _store_job(store, _child())
    parent = coordinator.start_run(_parent(child_job), job_id=None)
    finish(coordinator, claim(coordinator), Result.FAILED, error="boom")
    view = api(store, parent)
    call = view["tasks"][0]
    assert call["state"]["result_state"] == "FAILED"
    assert "boom" in call["state"]["state_message"]
    assert view["state"]["result_state"] == "FAILED"


def test_canceling_the_parent_cancels_the_child(store, coordinator):
    child_job = _store_job(store, _child())
    parent = coordinator.start_run(_parent(child_job), job_id=None)
    work = claim(coordinator)
    to_kill = coordinator.cancel_run(parent)
    assert [a.attempt_id for a in to_kill] == [work.attempt_id]
    finish(coordinator, work, Result.CANCELED)
    assert api(store, work.run_id)["state"]["result_state"] == "CANCELED"
    view = api(store, parent)
    assert view["tasks"][0]["state"]["result_state"] == "CANCELED"
    assert view["state"]["result_state"] == "CANCELED"


def test_a_missing_job_fails_the_task_clearly(store, coordinator):
    parent = coordinator.start_run(_parent(424242), job_id=None)
    call = api(store, parent)["tasks"][0]
    assert call["state"]["result_state"] == "FAILED"
    assert "Job 424242 does not exist" in call["state"]["state_message"]


def _self_calling_job(store, max_concurrent_runs: int):
    with store.begin() as conn:
        job_id = job_store.create_job(conn, {"name": "loop", "tasks": []}, now_ms=0)
    looping = job(
        {"task_key": "again", "run_job_task": {"job_id": job_id}},
        max_concurrent_runs=max_concurrent_runs,
    )
    data = json.loads(looping.model_dump_json(exclude_none=True))
    with store.begin() as conn:
        job_store.replace_settings(conn, job_id, data)
    return job_id, looping


def test_a_job_that_runs_itself_waits_in_its_own_queue(store, coordinator):
    """As on Databricks: with max_concurrent_runs 1 the nested run queues behind its parent."""
    job_id, looping = _self_calling_job(store, 1)
    first = coordinator.start_run(looping, job_id=job_id)
    child = api(store, first)["tasks"][0]["resolved_values"]["run_job_output"]["run_id"]
    assert api(store, child)["state"]["life_cycle_state"] == "QUEUED"


def test_a_job_that_runs_itself_stops_at_the_depth_limit(store, coordinator):
    job_id, looping = _self_calling_job(store, 50)
    first = coordinator.start_run(looping, job_id=job_id)
    view = api(store, first)
    assert view["state"]["result_state"] == "FAILED"  # the innermost failure travels back up
    with store.read() as conn:
        from headrace.store import runs as run_store

        nested = run_store.list_runs(conn, job_id=job_id, limit=100)
    assert len(nested) == 11  # the first run and 10 nested ones
    deepest = api(store, nested[0].run_id)["tasks"][0]
    assert "nested more than 10 deep" in deepest["state"]["state_message"]


def test_canceling_a_parent_whose_child_is_queued(store, coordinator):
    job_id, looping = _self_calling_job(store, 1)  # the child queues behind its own parent
    first = coordinator.start_run(looping, job_id=job_id)
    child = api(store, first)["tasks"][0]["resolved_values"]["run_job_output"]["run_id"]
    assert coordinator.cancel_run(first) == []
    assert api(store, child)["state"]["result_state"] == "CANCELED"
    view = api(store, first)
    assert view["state"]["result_state"] == "CANCELED"
    assert view["tasks"][0]["state"]["result_state"] == "CANCELED"


def test_run_job_task_needs_permission_on_the_other_job(store, coordinator):
    child_job = _store_job(store, _child())  # nobody holds a permission on it
    parent = coordinator.start_run(_parent(child_job), job_id=None, run_as="mallory")
    call = api(store, parent)["tasks"][0]
    assert call["state"]["result_state"] == "FAILED"
    assert "does not have CAN_MANAGE_RUN permission" in call["state"]["state_message"]
    assert claim(coordinator) is None  # the other job never ran
