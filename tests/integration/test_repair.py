"""Repair runs (Coordinator.repair_run): new task runs in the same run, with repair history."""

from __future__ import annotations

import pytest

from headrace.errors import Conflict, InvalidTransition, SpecError
from headrace.states import Result

from .helpers import api, claim, claim_key, drain, finish, job, run, shell, states, tasks


def _failed_run(coordinator):
    """a -> b -> c, plus an independent x that succeeds; a fails, so b and c never run."""
    settings = job(shell("a"), shell("b", "a"), shell("c", "b"), shell("x"))
    run_id = coordinator.start_run(settings, job_id=None)
    finish(coordinator, claim_key(coordinator, "a"), Result.FAILED, error="boom")
    finish(coordinator, claim_key(coordinator, "x"))
    return run_id


def test_failed_run_ends_failed_before_repair(store, coordinator):
    run_id = _failed_run(coordinator)
    assert states(store, run_id) == {
        "a": ("TERMINATED", "FAILED"),
        "b": ("SKIPPED", "UPSTREAM_FAILED"),
        "c": ("SKIPPED", "UPSTREAM_FAILED"),
        "x": ("TERMINATED", "SUCCESS"),
    }
    assert run(store, run_id).result is Result.FAILED


def test_repair_all_failed_tasks_creates_new_task_runs(store, coordinator):
    run_id = _failed_run(coordinator)
    before = tasks(store, run_id)
    original_end = run(store, run_id).end_time

    repair_id = coordinator.repair_run(run_id, rerun_all_failed_tasks=True)

    after = tasks(store, run_id)
    assert repair_id > max(tr.task_run_id for tr in before.values())
    for key in ("a", "b", "c"):
        assert after[key].task_run_id != before[key].task_run_id
        assert after[key].task_run_id > repair_id
        assert after[key].repair_id == repair_id
    assert after["x"].task_run_id == before["x"].task_run_id  # succeeded: kept
    assert states(store, run_id) == {
        "a": ("PENDING", None),
        "b": ("BLOCKED", None),
        "c": ("BLOCKED", None),
        "x": ("TERMINATED", "SUCCESS"),
    }
    repaired = run(store, run_id)
    assert repaired.life_cycle.value == "RUNNING"
    assert (repaired.repair_count, repaired.latest_repair_id) == (1, repair_id)

    view = api(store, run_id)
    assert view["latest_repair_id"] == repair_id
    assert view["repair_count"] == 1
    assert {t["task_key"]: t["run_id"] for t in view["tasks"]} == {
        k: tr.task_run_id for k, tr in after.items()
    }
    original, repair = view["repair_history"]
    assert original["type"] == "ORIGINAL"
    assert original["state"]["result_state"] == "FAILED"
    assert original["end_time"] == original_end
    assert sorted(original["task_run_ids"]) == sorted(tr.task_run_id for tr in before.values())
    assert repair["type"] == "REPAIR"
    assert repair["id"] == repair_id
    assert repair["rerun_tasks"] == ["a", "b", "c"]
    assert repair["state"]["life_cycle_state"] == "RUNNING"
    assert sorted(repair["task_run_ids"]) == sorted(after[k].task_run_id for k in "abc")

    a = claim_key(coordinator, "a")
    assert a.attempt_number == 0
    assert a.task_run_id == after["a"].task_run_id
    finish(coordinator, a)
    assert drain(coordinator) == ["b", "c"]

    view = api(store, run_id)
    assert view["state"]["result_state"] == "SUCCESS"
    assert view["repair_history"][1]["state"]["result_state"] == "SUCCESS"
    assert view["repair_history"][1]["status"]["termination_details"]["code"] == "SUCCESS"
    assert view["repair_history"][0]["state"]["result_state"] == "FAILED"


def test_second_repair_needs_latest_repair_id(store, coordinator):
    run_id = _failed_run(coordinator)
    first = coordinator.repair_run(run_id, rerun_all_failed_tasks=True)
    finish(coordinator, claim_key(coordinator, "a"), Result.FAILED)
    assert run(store, run_id).result is Result.FAILED

    with pytest.raises(SpecError, match="latest repair ID"):
        coordinator.repair_run(run_id, rerun_all_failed_tasks=True)
    with pytest.raises(SpecError, match="latest repair ID"):
        coordinator.repair_run(run_id, rerun_all_failed_tasks=True, latest_repair_id=first - 1)
    assert run(store, run_id).latest_repair_id == first  # nothing changed

    second = coordinator.repair_run(run_id, rerun_all_failed_tasks=True, latest_repair_id=first)
    assert second > first
    drain(coordinator)
    view = api(store, run_id)
    assert [item["type"] for item in view["repair_history"]] == ["ORIGINAL", "REPAIR", "REPAIR"]
    assert [item.get("id") for item in view["repair_history"]] == [None, first, second]
    assert view["repair_history"][1]["state"]["result_state"] == "FAILED"
    assert view["state"]["result_state"] == "SUCCESS"


def test_repair_of_an_active_run_raises_conflict(store, coordinator):
    run_id = coordinator.start_run(job(shell("a")), job_id=None)
    with pytest.raises(Conflict) as raised:
        coordinator.repair_run(run_id, rerun_tasks=["a"])
    assert not isinstance(raised.value, InvalidTransition)
    assert "active" in str(raised.value)
    assert run(store, run_id).repair_count == 0


def test_repair_of_a_successful_run_without_failures_is_a_conflict(store, coordinator):
    run_id = coordinator.start_run(job(shell("a")), job_id=None)
    drain(coordinator)
    with pytest.raises(Conflict, match="nothing to repair"):
        coordinator.repair_run(run_id, rerun_all_failed_tasks=True)


def test_repair_rejects_unknown_task_keys(store, coordinator):
    run_id = _failed_run(coordinator)
    with pytest.raises(SpecError, match="nope"):
        coordinator.repair_run(run_id, rerun_tasks=["nope"])
    assert run(store, run_id).repair_count == 0


def test_repair_chosen_task_with_dependents(store, coordinator):
    run_id = coordinator.start_run(job(shell("a"), shell("b", "a"), shell("c", "b")), job_id=None)
    finish(coordinator, claim_key(coordinator, "a"))
    finish(coordinator, claim_key(coordinator, "b"), Result.FAILED)
    assert run(store, run_id).result is Result.FAILED
    a_before = tasks(store, run_id)["a"].task_run_id

    coordinator.repair_run(run_id, rerun_tasks=["b"], rerun_dependent_tasks=True)
    # a keeps its success; b's only upstream is not rerun, so b starts at once.
    assert states(store, run_id) == {
        "a": ("TERMINATED", "SUCCESS"),
        "b": ("PENDING", None),
        "c": ("BLOCKED", None),
    }
    assert tasks(store, run_id)["a"].task_run_id == a_before
    assert api(store, run_id)["repair_history"][1]["rerun_tasks"] == ["b", "c"]
    assert drain(coordinator) == ["b", "c"]
    assert run(store, run_id).result is Result.SUCCESS


def test_repair_of_one_non_leaf_task_ends_the_run(store, coordinator):
    """BUG: completion is checked only when a leaf ends; rerunning a lone non-leaf never ends."""
    run_id = _failed_run(coordinator)
    coordinator.repair_run(run_id, rerun_tasks=["a"])
    assert states(store, run_id)["b"] == ("SKIPPED", "UPSTREAM_FAILED")
    finish(coordinator, claim_key(coordinator, "a"))
    assert claim(coordinator) is None
    ended = run(store, run_id)
    assert ended.life_cycle.value == "TERMINATED"
    assert ended.result is Result.FAILED  # the leaf c is still UPSTREAM_FAILED
