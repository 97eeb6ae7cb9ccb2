"""A run start wakes the workers (NOTIFY headrace_work, delivered at commit) when it starts
tasks, with the NOTIFY riding on the runs' INSERT (issue 18) rather than a statement of its
own; a queued run wakes the coordinating loop instead. PostgreSQL only: SQLite stores have
no other processes to wake.

Channels are per database, and other tests and benches may share it: the statements are
checked, and a delivery only as "at least one"."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest

from headrace.engine.coordinator import Coordinator
from headrace.store import jobs as job_store
from headrace.store import runs as run_store
from headrace.store import signals
from headrace.store.db import Store
from headrace.store.pg import PgTx

from .helpers import claim_key, finish, job, shell

pytestmark = pytest.mark.postgres
WORK = f"pg_notify('{signals.WORK}'"
COORDINATE = f"pg_notify('{signals.COORDINATE}'"


def _statements(act: Callable[[], Any]) -> list[str]:
    """The SQL text the store ran meanwhile (PgTx.execute: what the engine asks for)."""
    seen: list[str] = []
    execute = PgTx.execute

    def counted(self: PgTx, statement: Any, params: Any = None) -> Any:
        seen.append(str(statement))
        return execute(self, statement, params)

    PgTx.execute = counted  # type: ignore[method-assign]
    try:
        act()
    finally:
        PgTx.execute = execute  # type: ignore[method-assign]
    return seen


@pytest.fixture
def listening(pg_store: Store) -> Iterator[psycopg.Connection[Any]]:
    url = pg_store.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'LISTEN "{signals.WORK}"')
        yield conn


def test_a_started_run_wakes_the_workers_from_its_insert(
    pg_store: Store, listening: psycopg.Connection[Any]
) -> None:
    coordinator = Coordinator(pg_store, coordinator_id=None)
    settings = job(shell("a"), shell("b"), shell("c", "a"))
    seen = _statements(lambda: coordinator.start_run(settings, job_id=None))
    notifying = [s for s in seen if WORK in s]
    assert len(notifying) == 1 and "INSERT INTO runs" in notifying[0], seen
    assert not [s for s in seen if COORDINATE in s]
    listening.execute("SELECT 1")
    assert any(n.channel == signals.WORK for n in listening.notifies(timeout=2, stop_after=1))


def test_a_queued_run_wakes_the_coordinator_not_the_workers(pg_store: Store) -> None:
    coordinator = Coordinator(pg_store, coordinator_id=None)
    with pg_store.begin() as conn:
        job_id = job_store.create_job(conn, {"name": "wake"}, now_ms=1)
    settings = job(shell("a"), max_concurrent_runs=1)
    first = _statements(lambda: coordinator.start_run(settings, job_id=job_id))
    assert len([s for s in first if WORK in s]) == 1
    queued = _statements(lambda: coordinator.start_run(settings, job_id=job_id))
    assert not [s for s in queued if WORK in s], queued
    assert len([s for s in queued if COORDINATE in s]) == 1, queued


def test_a_run_of_no_tasks_wakes_no_worker(pg_store: Store) -> None:
    coordinator = Coordinator(pg_store, coordinator_id=None)
    seen = _statements(lambda: coordinator.start_run(job(), job_id=None))
    assert not [s for s in seen if WORK in s], seen


def test_runs_and_task_runs_are_inserted_in_one_statement(pg_store: Store) -> None:
    """Without job parameters; with them, the run is stored first (their references may read
    it) and its task runs after. Both store the same rows."""
    coordinator = Coordinator(pg_store, coordinator_id=None)
    plain = job(shell("a"), shell("b", "a"))
    with_parameters = job(
        shell("a"), shell("b", "a"), parameters=[{"name": "p", "default": "{{job.id}}"}]
    )
    ids = []
    for settings, inserts in ((plain, 1), (with_parameters, 2)):
        seen = _statements(lambda s=settings: ids.append(coordinator.start_run(s, job_id=None)))
        inserting = [s for s in seen if "INSERT INTO runs" in s or "INSERT INTO task_runs" in s]
        assert len(inserting) == inserts, seen
    with pg_store.read() as conn:
        for run_id in ids:
            task_runs = run_store.current_task_runs(conn, run_id)
            assert {t.task_key: t.waiting_on for t in task_runs} == {"a": 0, "b": 1}
            assert {t.life_cycle.value for t in task_runs} == {"PENDING", "BLOCKED"}
            assert run_store.get_run(conn, run_id).life_cycle.value == "RUNNING"
        assert run_store.get_run(conn, ids[1]).job_parameters[0]["name"] == "p"


def test_a_run_start_does_not_read_back_the_task_runs_it_inserted(pg_store: Store) -> None:
    """Its first planning pass uses the inserted rows (store/runs.task_run_from_values)."""
    coordinator = Coordinator(pg_store, coordinator_id=None)
    settings = job(shell("a"), shell("b"), shell("c", "a", "b"))
    run_id = 0

    def start() -> None:
        nonlocal run_id
        run_id = coordinator.start_run(settings, job_id=None)

    seen = _statements(start)
    assert not [s for s in seen if s.startswith("SELECT") and "FROM task_runs" in s], seen
    with pg_store.read() as conn:
        stored = {t.task_key: t for t in run_store.current_task_runs(conn, run_id)}
    assert {k: t.life_cycle.value for k, t in stored.items()} == {
        "a": "PENDING",
        "b": "PENDING",
        "c": "BLOCKED",
    }
    assert stored["c"].waiting_on == 2


def test_a_run_end_tells_the_coordinator_from_its_update(pg_store: Store) -> None:
    """The last task's end ends the run: the NOTIFY to the coordinating server rides on the
    run's end UPDATE, not a statement at commit; ends before it notify nobody."""
    coordinator = Coordinator(pg_store, coordinator_id=None)
    with pg_store.begin() as conn:
        job_id = job_store.create_job(conn, {"name": "ends"}, now_ms=1)
    run_id = coordinator.start_run(job(shell("a"), shell("b", "a")), job_id=job_id)
    first = _statements(lambda: finish(coordinator, claim_key(coordinator, "a")))
    assert not [s for s in first if COORDINATE in s], first
    last = _statements(lambda: finish(coordinator, claim_key(coordinator, "b")))
    notifying = [s for s in last if COORDINATE in s]
    assert len(notifying) == 1 and notifying[0].startswith("UPDATE runs"), last
    with pg_store.read() as conn:
        assert run_store.get_run(conn, run_id).result is not None
