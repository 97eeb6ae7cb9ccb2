"""Backfill creates its runs in one batch (issue 16: 365 dates in under 2 s, timed in
bench/backfill.py): every date gets its run with its own logical date, within the limits, on a
real SQLite store and a real PostgreSQL; the batch admits runs exactly as one-at-a-time starts."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from headrace.config import database_url
from headrace.engine.backfill import BackfillRequest, create_backfill, get_progress, pump
from headrace.engine.coordinator import Coordinator, NewRun, now_ms
from headrace.spec.loader import parse_job_settings
from headrace.store import backfills
from headrace.store import jobs as job_store
from headrace.store import runs as run_store
from headrace.store.backfills import backfill_dates
from headrace.store.db import Store, open_store
from pg_support import pg_base_url, with_search_path

DAY_MS = 86_400_000
START = datetime(2025, 1, 1, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        url = database_url(str(tmp_path / "headrace.db"), tmp_path)
    else:
        url = with_search_path(pg_base_url(), request.getfixturevalue("pg_schema"))
    opened = open_store(url)
    try:
        yield opened
    finally:
        opened.dispose()


def _job(store: Store, *, max_concurrent_runs: int, queue: bool = True) -> int:
    settings = {
        "name": "daily",
        "max_concurrent_runs": max_concurrent_runs,
        "queue": {"enabled": queue},
        "parameters": [{"name": "day", "default": "{{backfill.iso_date}}"}],
        "tasks": [
            {"task_key": "load", "shell_command_task": {"command": "echo {{job.parameters.day}}"}},
            {
                "task_key": "after",
                "depends_on": [{"task_key": "load"}],
                "shell_command_task": {"command": "true"},
            },
        ],
    }
    with store.begin() as conn:
        return job_store.create_job(conn, settings, now_ms=now_ms())


def _backfill(store: Store, job_id: int, days: int, max_concurrent: int) -> dict:
    end = START + timedelta(days=days - 1)
    req = BackfillRequest(
        job_id=job_id,
        start=START.date().isoformat(),
        end=end.date().isoformat(),
        every="1d",
        max_concurrent=max_concurrent,
    )
    return create_backfill(store, None, req)


def test_a_year_of_dates_gets_one_started_run_per_date(store: Store) -> None:
    job_id = _job(store, max_concurrent_runs=1000)
    backfill = _backfill(store, job_id, 365, 365)
    coordinator = Coordinator(store, coordinator_id="bf")
    run_ids = pump(store, coordinator)
    assert len(run_ids) == len(set(run_ids)) == 365

    progress = get_progress(store, None, backfill["backfill_id"])
    assert progress["counts"]["running"] == 365 and progress["counts"]["pending"] == 0
    expected = [(START + timedelta(days=i)).strftime("%Y-%m-%dT%H:%M:%S") for i in range(365)]
    assert [d["logical_date"] for d in progress["dates"]] == expected
    assert [d["run_id"] for d in progress["dates"]] == run_ids  # in date order

    with store.read() as conn:
        for day, run_id in enumerate(run_ids):
            run = run_store.get_run(conn, run_id)
            logical = int(START.timestamp() * 1000) + day * DAY_MS
            assert run.trigger_type == "BACKFILL" and run.life_cycle.value == "RUNNING"
            assert run.trigger_info == {
                "scheduled_time": logical,
                "backfill": {"backfill_id": backfill["backfill_id"], "logical_time": logical},
            }
            assert run.parameters == {"day": expected[day][:10]}  # resolved per run
            states = {
                tr.task_key: tr.life_cycle.value for tr in run_store.current_task_runs(conn, run_id)
            }
            assert states == {"load": "PENDING", "after": "BLOCKED"}
            [attempt] = run_store.attempts_of_run(conn, run_id)
            assert attempt.payload["settings"]["command"] == f"echo {expected[day][:10]}"

    # Nothing left to start: a second pump creates nothing.
    assert pump(store, coordinator) == []


def test_the_batch_keeps_within_max_concurrent_and_the_jobs_limit(store: Store) -> None:
    job_id = _job(store, max_concurrent_runs=3)
    backfill = _backfill(store, job_id, 30, 10)
    coordinator = Coordinator(store, coordinator_id="bf")
    assert len(pump(store, coordinator)) == 3  # the job's max_concurrent_runs
    assert pump(store, coordinator) == []  # full: nothing more until one ends
    counts = get_progress(store, None, backfill["backfill_id"])["counts"]
    assert counts["running"] == 3 and counts["pending"] == 27

    other = _job(store, max_concurrent_runs=1000)
    second = _backfill(store, other, 30, 10)
    assert len(pump(store, coordinator, only=second["backfill_id"])) == 10  # the backfill's own
    assert get_progress(store, None, second["backfill_id"])["counts"]["pending"] == 20


@pytest.mark.parametrize("queue", [True, False])
def test_start_runs_admits_in_order_like_one_start_after_another(store: Store, queue: bool) -> None:
    batch_job, single_job = (
        _job(store, max_concurrent_runs=2, queue=queue),
        _job(store, max_concurrent_runs=2, queue=queue),
    )
    coordinator = Coordinator(store, coordinator_id="bf")
    with store.read() as conn:
        settings = parse_job_settings(job_store.get_job(conn, batch_job).settings)
    infos = [{"scheduled_time": i * DAY_MS} for i in range(5)]
    batch = coordinator.start_runs(
        settings, [NewRun({}, info) for info in infos], job_id=batch_job, trigger_type="BACKFILL"
    )
    single = [
        coordinator.start_run(settings, job_id=single_job, trigger_type="BACKFILL", trigger_info=i)
        for i in infos
    ]

    def seen(run_ids: list[int]) -> list[tuple[str, str | None, str]]:
        with store.read() as conn:
            runs = [run_store.get_run(conn, r) for r in run_ids]
        return [(r.life_cycle.value, r.result and r.result.value, r.state_message) for r in runs]

    assert seen(batch) == seen(single)
    lives = [life for life, _, _ in seen(batch)]
    later = "QUEUED" if queue else "SKIPPED"
    assert lives == ["RUNNING", "RUNNING", later, later, later]


def test_a_date_taken_by_another_process_rolls_the_whole_batch_back(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id = _job(store, max_concurrent_runs=1000)
    backfill = _backfill(store, job_id, 5, 5)
    with store.read() as conn:
        seen_before = backfills.next_pending(conn, backfill["backfill_id"], 5)
    with store.begin() as conn:  # another process started the third date since
        conn.execute(
            update(backfill_dates).where(backfill_dates.c.ordinal == 2).values(state="STARTED")
        )
    # This pump read the pending dates before that (a stale read).
    monkeypatch.setattr(backfills, "next_pending", lambda conn, backfill_id, limit: seen_before)
    assert pump(store, Coordinator(store, coordinator_id="bf")) == []
    with store.read() as conn:
        assert run_store.count_admitted_runs(conn, job_id) == 0
        assert run_store.queued_runs(conn, job_id) == []
        states = conn.execute(select(backfill_dates.c.state).order_by(backfill_dates.c.ordinal))
        assert [s for (s,) in states] == ["PENDING", "PENDING", "STARTED", "PENDING", "PENDING"]
    monkeypatch.undo()
    assert len(pump(store, Coordinator(store, coordinator_id="bf"))) == 4  # the others, later


def test_start_runs_creates_nothing_when_its_hook_refuses(store: Store) -> None:
    job_id = _job(store, max_concurrent_runs=1000)
    coordinator = Coordinator(store, coordinator_id="bf")
    with store.read() as conn:
        settings = parse_job_settings(job_store.get_job(conn, job_id).settings)

    def refuse(conn: object, run_ids: list[int]) -> None:
        assert len(run_ids) == 3
        raise RuntimeError("no")

    with pytest.raises(RuntimeError):
        coordinator.start_runs(settings, [NewRun()] * 3, job_id=job_id, on_created=refuse)
    with store.read() as conn:
        assert run_store.count_admitted_runs(conn, job_id) == 0
        assert run_store.list_runs(conn, job_id=job_id) == []
