"""An attempt's end keeps its log in the store in the same transaction (on PostgreSQL one
statement with the end, issue 18), once: a second report of the same end keeps nothing."""

from __future__ import annotations

import gzip

import pytest

from headrace.engine.coordinator import Coordinator
from headrace.engine.transaction import AttemptOutcome
from headrace.errors import AttemptEnded
from headrace.states import Result
from headrace.store import logs
from headrace.store.db import Store

from .helpers import claim_key, job, shell


def test_an_ended_attempt_keeps_its_log_once(store: Store, coordinator: Coordinator) -> None:
    coordinator.start_run(job(shell("a")), job_id=None)
    attempt = claim_key(coordinator, "a")
    text = b"100% done; rows = 7 % 3\n"  # '%' must reach the store as written
    log = (gzip.compress(text), len(text))
    coordinator.finish_attempt(attempt, AttemptOutcome(Result.SUCCESS, log=log))
    with store.read() as conn:
        kept = logs.log_by_path(conn, attempt.log_path)
    assert kept is not None and gzip.decompress(kept[0]) == text and kept[1] == len(text)
    with pytest.raises(AttemptEnded):
        coordinator.finish_attempt(attempt, AttemptOutcome(Result.FAILED, log=(b"x", 1)))
    with store.read() as conn:
        rows = conn.execute(
            "SELECT count(*) FROM attempt_logs WHERE attempt_id = :a",
            {"a": attempt.attempt_id},
        ).scalar_one()
    assert rows == 1
