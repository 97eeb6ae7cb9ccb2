"""Jobs stored before a rule they now break (issue 11: duplicate depends_on, size limits).

They cannot start a run any more; a schedule says so once and spends its tick, instead of a
traceback in the log on every retry."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from headrace.engine.coordinator import Coordinator
from headrace.engine.triggers import TriggerLoop
from headrace.store import jobs as job_store
from headrace.store import runs as run_store
from headrace.store.db import Store

from .conftest import Clock
from .helpers import shell
from .test_triggers import ms


def store_unvalidated(store: Store, at: int, settings: dict[str, Any]) -> int:
    data = json.loads(json.dumps(settings))
    with store.begin() as conn:
        job_id = job_store.create_job(conn, data, now_ms=at, creator="alice")
        job_store.add_version(conn, job_id, data, by="alice", now_ms=at)
    return job_id


def test_a_scheduled_job_with_a_repeated_dependency_warns_once_and_spends_its_tick(
    store: Store, coordinator: Coordinator, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    clock.now = ms(2024, 1, 1, 0, 59)
    job_id = store_unvalidated(
        store,
        clock.now,
        {
            "name": "legacy",
            "tasks": [shell("a"), shell("b", "a", "a")],
            "schedule": {"quartz_cron_expression": "0 0 * * * ?", "timezone_id": "UTC"},
        },
    )
    loop = TriggerLoop(store, coordinator)
    loop.tick(clock.now)
    caplog.set_level(logging.INFO, logger="headrace")
    for minutes in (1, 2, 3):
        loop.tick(ms(2024, 1, 1, 1, minutes))
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
    warnings = [r.getMessage() for r in caplog.records if "is listed twice" in r.getMessage()]
    assert len(warnings) == 1, caplog.text
    with store.read() as conn:
        assert run_store.list_runs(conn, job_id=job_id) == []
        assert job_store.get_trigger_state(conn, job_id)["cursor"] >= ms(2024, 1, 1, 1)
