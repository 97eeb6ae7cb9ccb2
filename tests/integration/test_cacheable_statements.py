"""The statements of a run's start and of its task ends stay cacheable on PostgreSQL: psycopg
converts a statement's `%(name)s` text once and prepares it server-side only when the text is
at most 4,096 characters with at most 50 parameters (`psycopg._queries`), and only a text
that does not change with the number of rows is ever run again. A 1 -> 50 -> 1 run's start,
its fan-out (50 attempts queued in one statement) and its fan-in must neither make psycopg
parse a statement without its cache nor send a text that a 1 -> 3 -> 1 run does not send."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg._queries
import pytest

from headrace.engine.coordinator import AttemptOutcome, Coordinator
from headrace.states import Result
from headrace.store.attempts import LogPaths
from headrace.store.db import Store
from headrace.store.pg import PgTx

from .helpers import claim, job, run, shell

pytestmark = pytest.mark.postgres


def _fan(width: int, parameters: bool = False) -> Any:
    """A 1 -> width -> 1 job; with job parameters a run start inserts its run first and its
    task runs after (engine/runs.py), without, both in one statement."""
    middle = [f"m{i}" for i in range(width)]
    extra: dict[str, Any] = {"parameters": [{"name": "p", "default": "x"}]} if parameters else {}
    return job(
        shell("start"),
        *(shell(m, "start") for m in middle),
        shell("end", *middle),
        max_concurrent_runs=100,
        **extra,
    )


@pytest.fixture
def seen(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, list[str]]]:
    """What psycopg converted without its cache, and the SQL text the store ran."""
    found: dict[str, list[str]] = {"uncached": [], "texts": []}
    nocache = psycopg._queries._query2pg_nocache
    execute = PgTx.execute

    def uncached(query: bytes, encoding: str) -> Any:
        found["uncached"].append(bytes(query).decode(errors="replace")[:200])
        return nocache(query, encoding)

    def counted(self: PgTx, statement: Any, params: Any = None) -> Any:
        if isinstance(statement, str):
            found["texts"].append(statement)
        return execute(self, statement, params)

    monkeypatch.setattr(psycopg._queries, "_query2pg_nocache", uncached)
    monkeypatch.setattr(PgTx, "execute", counted)
    yield found


def _run_through(
    pg_store: Store, width: int, seen: dict[str, list[str]], parameters: bool = False
) -> set[str]:
    """Start a 1 -> width -> 1 run and end all its tasks as a worker slot does (each end
    claims the next attempt in its transaction); the statement texts it took."""
    coordinator = Coordinator(pg_store, coordinator_id=None)
    seen["texts"].clear()
    run_id = coordinator.start_run(_fan(width, parameters), job_id=None)
    claim_for = ("w1", LogPaths("/tmp/headrace-test-logs"), None)
    attempt = claim(coordinator)
    done = 0
    while attempt is not None:
        outcome = AttemptOutcome(Result.SUCCESS, exit_code=0)
        attempt = coordinator.finish_attempt(attempt, outcome, claim_for=claim_for)
        done += 1
    assert done == width + 2
    assert run(pg_store, run_id).result is Result.SUCCESS
    return set(seen["texts"])


@pytest.mark.parametrize("parameters", [False, True])
def test_a_wide_run_sends_only_statements_psycopg_caches(
    pg_store: Store, seen: dict[str, list[str]], parameters: bool
) -> None:
    _run_through(pg_store, 3, seen, parameters)  # first use: anything built once per process
    seen["uncached"].clear()
    _run_through(pg_store, 50, seen, parameters)
    assert seen["uncached"] == []


@pytest.mark.parametrize("parameters", [False, True])
def test_a_run_start_and_fan_out_send_the_same_text_for_3_and_50_tasks(
    pg_store: Store, seen: dict[str, list[str]], parameters: bool
) -> None:
    narrow = _run_through(pg_store, 3, seen, parameters)
    wide = _run_through(pg_store, 50, seen, parameters)
    inserts = [s for s in narrow if "INSERT INTO task_runs" in s or "INSERT INTO attempts" in s]
    assert any("INSERT INTO task_runs" in s and "json_populate_recordset" in s for s in inserts)
    assert any("INSERT INTO attempts" in s and "UPDATE task_runs" in s for s in inserts)
    assert wide == narrow


def test_the_run_start_and_fan_out_statements_are_prepared(pg_store: Store) -> None:
    """One text for every width, so psycopg prepares it after its threshold (5 runs)."""
    coordinator = Coordinator(pg_store, coordinator_id=None)
    for width in range(2, 10):
        coordinator.start_run(_fan(width), job_id=None)
    for _ in range(2, 10):  # each start task's end queues its run's fan-out
        attempt = claim(coordinator)
        assert attempt is not None and attempt.payload["task_key"] == "start"
        coordinator.finish_attempt(attempt, AttemptOutcome(Result.SUCCESS, exit_code=0))
    with pg_store.read() as conn:
        prepared = conn.execute("SELECT statement FROM pg_prepared_statements").scalars().all()
    assert any("INSERT INTO runs" in s and "INSERT INTO task_runs" in s for s in prepared)
    assert any("UPDATE task_runs" in s and "INSERT INTO attempts" in s for s in prepared)
