"""The coordinator's cache of run plans across rollbacks (issue 18, review finding 7): a
rolled-back transaction forgets the plans it cached (their run may never exist, its id is
given again) and only those; plans cached by committed transactions stay."""

from __future__ import annotations

import pytest

from headrace.engine.coordinator import AttemptOutcome, Coordinator
from headrace.states import Result
from headrace.store import runs as run_store
from headrace.store.db import Store

from .helpers import job, shell


def test_a_rollback_forgets_only_the_plans_its_transaction_cached(
    coordinator: Coordinator, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept = coordinator.start_run(job(shell("a")), job_id=None)
    assert (kept, 0) in coordinator._plans

    def crash(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("the transaction fails after the new run's plan was cached")

    monkeypatch.setattr(run_store, "set_job_parameters", crash)  # after the plan is cached
    with pytest.raises(RuntimeError):
        coordinator.start_run(job(shell("b")), job_id=None)
    monkeypatch.undo()
    assert list(coordinator._plans) == [(kept, 0)]

    again = coordinator.start_run(job(shell("c")), job_id=None)  # may reuse the lost run's id
    assert coordinator._plans[(again, 0)][0].settings.tasks[0].task_key == "c"


def test_a_run_new_to_a_process_takes_the_plan_of_its_settings_text(
    coordinator: Coordinator, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An attempt carries its run's settings digest, so a process ending a task of a run it
    has not seen reuses the plan parsed for another run with the same settings text instead
    of reading the run's settings (issue 18); the ends are as without it."""
    settings = job(shell("a"), shell("b", "a"), shell("c", "b"))
    runs = [coordinator.start_run(settings, job_id=None) for _ in range(2)]
    reads: list[int] = []
    for name in ("run_settings", "run_settings_unlocked"):
        read = getattr(run_store, name)
        monkeypatch.setattr(
            run_store, name, lambda conn, run_id, _r=read: reads.append(run_id) or _r(conn, run_id)
        )

    def end_both(key: str) -> list[int]:
        ender = Coordinator(store, coordinator_id=None)  # a new process: no plan cached
        ended = []
        for _ in range(2):
            attempt = ender.claim_next_attempt("w1", lambda _a: "/tmp/output.log")
            assert attempt is not None and attempt.payload["task_key"] == key
            assert attempt.payload["settings_digest"]
            ender.finish_attempt(attempt, AttemptOutcome(Result.SUCCESS, exit_code=0))
            ended.append(attempt.run_id)
        assert sorted(ended) == runs
        return ended

    ended = end_both("a")  # queued by the process that started the runs
    assert reads == [ended[0]]  # the second run's plan came from the first's
    reads.clear()
    end_both("b")  # queued by the first ender
    assert reads == [ended[0]]
    for run_id in runs:
        with store.begin() as conn:
            states = {
                tr.task_key: tr.life_cycle.value for tr in run_store.current_task_runs(conn, run_id)
            }
        assert states == {"a": "TERMINATED", "b": "TERMINATED", "c": "PENDING"}
