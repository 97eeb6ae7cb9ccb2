"""The coordinator's invariant (issue 11, 2.2): a run never stays RUNNING with nothing pending
or running. Stuck states are built through the store and models directly, as an old store or
a bug would hold them, bypassing the validation that now refuses them."""

from __future__ import annotations

from typing import Any

from headrace.engine.coordinator import Coordinator
from headrace.spec.models import JobSettings
from headrace.states import LifeCycle, Result
from headrace.store import jobs as job_store
from headrace.store import runs as run_store
from headrace.store.db import Store

from .helpers import claim, claim_key, finish, run, shell, states


def unvalidated(*tasks: dict[str, Any], **extra: Any) -> JobSettings:
    """Settings the models accept but `validate_job` would refuse (the store takes them)."""
    return JobSettings.model_validate({"name": "stuck", "tasks": list(tasks), **extra})


def test_a_repeated_dependency_ends_the_run_internal_error_naming_the_task(
    store: Store, coordinator: Coordinator
) -> None:
    twice = shell("b", "a", "a")  # b waits on two ends of a: only one ever comes
    run_id = coordinator.start_run(unvalidated(shell("a"), twice, shell("c")), job_id=None)
    finish(coordinator, claim_key(coordinator, "a"))
    finish(coordinator, claim_key(coordinator, "c"))
    ended = run(store, run_id)
    assert ended.life_cycle == LifeCycle.INTERNAL_ERROR
    assert ended.result == Result.FAILED
    assert "'b'" in ended.state_message and "cannot progress" in ended.state_message
    assert states(store, run_id) == {
        "a": ("TERMINATED", "SUCCESS"),
        "b": ("INTERNAL_ERROR", "FAILED"),
        "c": ("TERMINATED", "SUCCESS"),
    }
    assert claim(coordinator) is None


def test_the_check_waits_while_another_task_still_runs(
    store: Store, coordinator: Coordinator
) -> None:
    run_id = coordinator.start_run(
        unvalidated(shell("a"), shell("slow"), shell("b", "a", "a")), job_id=None
    )
    first, slow = claim_key(coordinator, "a"), claim_key(coordinator, "slow")
    finish(coordinator, first)
    assert run(store, run_id).life_cycle == LifeCycle.RUNNING  # 'slow' can still release b
    finish(coordinator, slow)
    assert run(store, run_id).life_cycle == LifeCycle.INTERNAL_ERROR


def test_a_stuck_run_frees_its_job_slot_for_the_queued_run(
    store: Store, coordinator: Coordinator
) -> None:
    settings = unvalidated(shell("a"), shell("b", "a", "a"), queue={"enabled": True})
    with store.begin() as conn:
        job_id = job_store.create_job(conn, settings.model_dump(mode="json"), now_ms=0)
    stuck = coordinator.start_run(settings, job_id=job_id)
    queued = coordinator.start_run(settings, job_id=job_id)
    assert run(store, queued).life_cycle == LifeCycle.QUEUED
    finish(coordinator, claim_key(coordinator, "a"))
    assert run(store, stuck).life_cycle == LifeCycle.INTERNAL_ERROR
    assert run(store, queued).life_cycle == LifeCycle.RUNNING  # no longer queued forever
    assert claim_key(coordinator, "a").run_id == queued


def test_a_run_found_stuck_by_recovery_is_ended(store: Store, coordinator: Coordinator) -> None:
    """A store holding an already stuck run (from before the fix): adopting it ends it."""
    # Write the stuck state straight into the store: b blocked on an upstream that has ended.
    run_id = coordinator.start_run(unvalidated(shell("a"), shell("b", "a")), job_id=None)
    with store.begin() as conn:
        for tr in run_store.current_task_runs(conn, run_id):
            if tr.task_key == "a":
                for attempt in run_store.open_attempts_of_run(conn, run_id):
                    run_store.end_attempt(
                        conn,
                        attempt.attempt_id,
                        from_states=("PENDING",),
                        result_state="SUCCESS",
                        exit_code=0,
                        error=None,
                        error_trace=None,
                        output=None,
                        end_time=1,
                    )
                run_store.set_task_state(
                    conn,
                    tr.task_run_id,
                    LifeCycle.TERMINATED,
                    result_state="SUCCESS",
                    end_time=1,
                )
    assert run(store, run_id).life_cycle == LifeCycle.RUNNING
    assert coordinator.adopt_run(run_id, "restarted")
    ended = run(store, run_id)
    assert ended.life_cycle == LifeCycle.INTERNAL_ERROR
    assert "'b'" in ended.state_message
