"""PostgreSQL's partial state indexes (migration 0015, issue 18): what they hold, and that the
store's queries on a store with a long history still read them, not the whole table.

Every claim, end or state change of an attempt or task run changes an indexed column, so none
is a HOT update and each writes a new entry into every index of its table; the state indexes
therefore hold only the rows their queries look for (schema.py). These tests fail if an index
takes rows it should not, if a store created from the models and a migrated one differ, or
if a query stops proving the index's predicate (it would then scan the table's history).
"""

from __future__ import annotations

import pytest
from sqlalchemy import text

from headrace.states import ACTIVE
from headrace.store import attempts as attempt_store
from headrace.store import loop_look, progress, workers
from headrace.store import task_runs as task_run_store
from headrace.store.db import open_store
from headrace.store.migrate import upgrade
from headrace.store.schema import metadata
from pg_support import pg_base_url, with_search_path

pytestmark = pytest.mark.postgres

# index -> (the rows it holds, as PostgreSQL spells the predicate, normalised below)
PARTIAL = {
    "ix_attempts_claim": "state = 'pending'",
    "ix_attempts_state": "state = any (array['pending', 'running'])",
    "ix_task_runs_run_state": (
        "life_cycle_state = any (array['blocked', 'pending', 'queued', 'running',"
        " 'terminating', 'waiting_for_retry'])"
    ),
    "ix_task_runs_values": "task_values is not null",
    "ix_task_runs_parent": "parent_id is not null",
}


def _norm(predicate: str) -> str:
    """A predicate without casts, parentheses or case."""
    for noise in ("::character varying", "::text[]", "::text", "(", ")"):
        predicate = predicate.replace(noise, "")
    return " ".join(predicate.split()).lower()


def _predicates(store) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Each index's WHERE as the database keeps it, normalised."""
    query = (
        "SELECT c.relname, pg_get_expr(i.indpred, i.indrelid) FROM pg_index i"
        " JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid"
        " WHERE t.relnamespace = current_schema()::regnamespace"
        " AND t.relname IN ('attempts', 'task_runs')"
    )
    out = {}
    with store.engine.connect() as conn:
        for name, pred in conn.execute(text(query)):
            if pred is not None:
                out[name] = _norm(pred)
    return out


def test_the_live_task_run_states_are_the_active_ones():
    """A new state must come with a migration of ix_task_runs_run_state (and its queries)."""
    listed = PARTIAL["ix_task_runs_run_state"].split("array[")[1].rstrip("])")
    assert sorted(s.strip(" '") for s in listed.split(",")) == sorted(
        s.value.lower() for s in ACTIVE
    )


def test_created_and_migrated_stores_have_the_same_partial_indexes(pg_schema):
    url = with_search_path(pg_base_url(), pg_schema)
    created = open_store(url)
    try:
        assert _predicates(created) == {k: _norm(v) for k, v in PARTIAL.items()}
        with created.engine.begin() as conn:
            conn.execute(text("DROP TABLE alembic_version"))
            metadata.drop_all(conn)
    finally:
        created.dispose()
    migrated = open_store(url, migrate=False)
    try:
        upgrade(migrated, "0014", shortcut=False)
        assert _predicates(migrated) == {"ix_task_runs_parent": "parent_id is not null"}
        upgrade(migrated, shortcut=False)
        assert _predicates(migrated) == {k: _norm(v) for k, v in PARTIAL.items()}
    finally:
        migrated.dispose()


# A store with history: 3,000 ended runs of 10 task runs (one ended attempt each) and 10 live
# runs with task runs and attempts in every live state. No ANALYZE, as a store whose
# autovacuum has not run yet (the test server runs with autovacuum off); then with statistics.
_HISTORY = [
    "INSERT INTO runs (run_id, run_name, run_type, trigger_type, settings, job_parameters,"
    " life_cycle_state, result_state, state_message, repair_count, created_time, start_time)"
    " SELECT g, 'r', 'JOB_RUN', 'ONE_TIME', '{}', '[]',"
    " CASE WHEN g > 3000 THEN 'RUNNING' ELSE 'TERMINATED' END,"
    " CASE WHEN g > 3000 THEN NULL ELSE 'SUCCESS' END, '', 0, g, g"
    " FROM generate_series(1, 3010) g",
    'INSERT INTO task_runs (task_run_id, run_id, task_key, "current", life_cycle_state,'
    " state_message, waiting_on, attempt_number, retry_at, task_values)"
    " SELECT 100000 + g, 1 + (g - 1) / 10, 't' || (g % 10), TRUE,"
    " CASE WHEN g <= 30000 THEN 'TERMINATED' ELSE (ARRAY['BLOCKED', 'PENDING', 'RUNNING',"
    " 'WAITING_FOR_RETRY', 'TERMINATED'])[1 + g % 5] END, '', 0, 0,"
    " CASE WHEN g > 30000 AND g % 5 = 3 THEN g END,"
    " CASE WHEN g % 997 = 0 THEN '{}' END"
    " FROM generate_series(1, 30100) g",
    "INSERT INTO attempts (task_run_id, run_id, attempt_number, state, payload, created_time,"
    " claim_key)"
    " SELECT 100000 + g, 1 + (g - 1) / 10, 0,"
    " CASE WHEN g <= 30000 THEN 'TERMINATED' ELSE (ARRAY['PENDING', 'RUNNING',"
    " 'TERMINATED'])[1 + g % 3] END, '{\"task_key\": \"t\"}', g, g"
    " FROM generate_series(1, 30100) g",
]


def _plans(store, analyze: bool) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """EXPLAIN of the store's own statements (its SQL text, its parameter conversion)."""
    statements = {
        "claim pick": (attempt_store._pick_pending(False, False, True), {}),
        "pooled claim pick": (attempt_store._pick_pending(False, True, True), {"b_pools": ["p"]}),
        "claim": (
            attempt_store._PICK_AND_CLAIM[(False, False)],
            {
                "worker_id": "w",
                "start_time": 1,
                "b_prefix": "/logs/",
                "b_from": ["PENDING", "BLOCKED"],
            },
        ),
        "open task runs": (task_run_store._COUNT_OPEN, {"b_run_id": 3005}),
        "any live": (progress._ANY_LIVE, {"b_run_id": 3005}),
        "blocked": (progress._BLOCKED, {"b_run_id": 3005}),
        "values of a run": (task_run_store._VALUES_OF_RUN, {"b_run_id": 3005}),
        "loop look": (loop_look._LOOK, {"b_now": 10**9}),
    }
    out = {}
    with store.begin() as conn:
        for stmt in _HISTORY:
            conn.execute(stmt)
        if analyze:
            conn.execute("ANALYZE")
        for name, (sql, params) in statements.items():
            rows = conn.execute("EXPLAIN " + sql, params).all()
            out[name] = "\n".join(r[0] for r in rows)
        # Statements written inside their query functions: the plan of what they send.
        explaining = _Explaining(conn)
        assert workers.running_attempts(explaining) == []
        out["running attempts"] = explaining.plan
        assert attempt_store.open_attempts_of_run(explaining, 3005) == []
        out["open attempts of a run"] = explaining.plan
        assert attempt_store.attempts_of_run(explaining, 3005) == []
        out["attempts of a run"] = explaining.plan
    return out


class _Explaining:
    """A transaction that EXPLAINs the statement it is given and answers no rows."""

    def __init__(self, conn) -> None:  # type: ignore[no-untyped-def]
        self.conn, self.plan = conn, ""

    def execute(self, sql, params=None):  # type: ignore[no-untyped-def]
        rows = self.conn.execute("EXPLAIN " + sql, params or {}).all()
        self.plan = "\n".join(r[0] for r in rows)
        return []


@pytest.mark.parametrize("analyze", [False, True], ids=["no statistics", "analyzed"])
def test_queries_of_live_rows_read_the_partial_indexes(pg_store, analyze):
    plans = _plans(pg_store, analyze)
    for name in ("claim pick", "pooled claim pick"):
        assert "ix_attempts_claim" in plans[name], plans[name]
    assert "ix_attempts_claim" in plans["claim"], plans["claim"]
    for name in ("running attempts", "open attempts of a run"):
        assert "ix_attempts_state" in plans[name], plans[name]
    for name in ("open task runs", "any live"):
        assert "ix_task_runs_run_state" in plans[name], plans[name]
    # A run's attempts through its task runs (attempts has no run_id index). Without
    # statistics PostgreSQL guesses 0.5% of the task runs match and may scan attempts.
    if analyze:
        assert "ix_attempts_task_run" in plans["attempts of a run"], plans["attempts of a run"]
    else:
        del plans["attempts of a run"]
    # The loop look runs on every pass of a busy server: no member reads every run kept.
    assert "Seq Scan on runs" not in plans["loop look"], plans["loop look"]
    for name, plan in plans.items():
        assert "Seq Scan on attempts" not in plan, (name, plan)
        assert "Seq Scan on task_runs" not in plan, (name, plan)


def test_the_ui_queue_reads_pending_attempts_by_index_under_a_generic_plan(pg_store):
    """store.queue's construct names its state as a literal: with a bound parameter a generic
    plan (psycopg prepares a statement after five runs; PostgreSQL may then keep one plan for
    any parameter) cannot use ix_attempts_claim and scans every attempt kept."""
    from sqlalchemy.dialects import postgresql

    from headrace.store import queue

    with pg_store.begin() as conn:
        for stmt in _HISTORY:
            conn.execute(stmt)
        conn.execute("ANALYZE")
        raw = conn.sqlalchemy()
        raw.exec_driver_sql("SET LOCAL plan_cache_mode = force_generic_plan")
        plans: list[str] = []

        class Preparing:
            def execute(self, construct):  # type: ignore[no-untyped-def]
                compiled = construct.compile(dialect=postgresql.dialect())
                names = list(compiled.params)
                sql = str(compiled)
                for i, name in enumerate(names, 1):
                    sql = sql.replace(f"%({name})s", f"${i}")
                raw.exec_driver_sql(f"PREPARE ui_queue AS {sql}")
                args = ", ".join(repr(compiled.params[n]) for n in names)
                rows = raw.exec_driver_sql(f"EXPLAIN EXECUTE ui_queue({args})").all()
                plans.append("\n".join(r[0] for r in rows))
                raw.exec_driver_sql("DEALLOCATE ui_queue")
                return []

        assert queue.pending_in_claim_order(Preparing()) == []  # type: ignore[arg-type]
    assert "ix_attempts_claim" in plans[0], plans[0]
    assert "Seq Scan on attempts" not in plans[0], plans[0]
