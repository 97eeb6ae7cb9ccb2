"""The coordinator's cache of run plans across rollbacks (issue 18, review finding 7): a
rolled-back transaction forgets the plans it cached (their run may never exist, its id is
given again) and only those; plans cached by committed transactions stay."""

from __future__ import annotations

import pytest

from headrace.engine.coordinator import Coordinator
from headrace.store import runs as run_store

from .helpers import job, shell


def test_a_rollback_forgets_only_the_plans_its_transaction_cached(
    coordinator: Coordinator, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept = coordinator.start_run(job(shell("a")), job_id=None)
    assert (kept, 0) in coordinator._plans

    def crash(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("the transaction fails after the new run's plan was cached")

    monkeypatch.setattr(run_store, "insert_task_runs", crash)
    with pytest.raises(RuntimeError):
        coordinator.start_run(job(shell("b")), job_id=None)
    monkeypatch.undo()
    assert list(coordinator._plans) == [(kept, 0)]

    again = coordinator.start_run(job(shell("c")), job_id=None)  # may reuse the lost run's id
    assert coordinator._plans[(again, 0)][0].settings.tasks[0].task_key == "c"
