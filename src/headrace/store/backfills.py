"""Backfills (issue 16): their tables and every query about them.

A backfill is one row; each logical date it covers is a `backfill_dates` row, PENDING until
its run is created (then STARTED with the run id), SKIPPED when an earlier backfill already
succeeded for that date (or runs it now), CANCELED when the backfill was canceled first.
`schema.py` imports this module, so the tables are part of the store's metadata.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    bindparam,
    func,
    insert,
    select,
    update,
)

from headrace.errors import NotFound
from headrace.store.schema import Id, metadata, runs

backfills = Table(
    "backfills",
    metadata,
    Column("backfill_id", Id, primary_key=True, autoincrement=True),
    Column("job_id", BigInteger, nullable=False),
    Column("created_by", Text),
    Column("created_time", BigInteger, nullable=False),
    Column("options", Text, nullable=False),  # JSON: from, to, every / cron, reverse, parameters
    Column("max_concurrent", Integer, nullable=False),
    Column("state", String(16), nullable=False),  # RUNNING, DONE, CANCELED
    Column("end_time", BigInteger),
)
Index("ix_backfills_state", backfills.c.state)
Index("ix_backfills_job", backfills.c.job_id)

backfill_dates = Table(
    "backfill_dates",
    metadata,
    Column(
        "backfill_id",
        BigInteger,
        ForeignKey("backfills.backfill_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("ordinal", Integer, primary_key=True),  # the order runs are started in
    Column("logical_time", BigInteger, nullable=False),  # epoch ms, UTC
    Column("state", String(16), nullable=False),  # PENDING, STARTED, SKIPPED, CANCELED
    Column("run_id", BigInteger),
    Column("note", Text),  # why a date was skipped
)
Index("ix_backfill_dates_run", backfill_dates.c.run_id)

_ACTIVE_RUN = ("QUEUED", "PENDING", "BLOCKED", "RUNNING", "WAITING_FOR_RETRY", "TERMINATING")


@dataclass(frozen=True)
class Backfill:
    """One backfill of a job over a range of logical dates."""

    backfill_id: int
    job_id: int
    created_by: str | None
    created_time: int
    options: dict[str, Any]
    max_concurrent: int
    state: str
    end_time: int | None

    @classmethod
    def from_row(cls, row: Any) -> Backfill:
        m = row._mapping
        return cls(**{**dict(m), "options": json.loads(m["options"])})


def insert_backfill(
    conn: Connection, *, dates: list[tuple[int, str, str | None]], **values: Any
) -> int:
    """Insert a backfill and its dates [(logical_time, state, note)]; returns its id."""
    values["options"] = json.dumps(values["options"])
    backfill_id = conn.execute(
        insert(backfills).values(**values).returning(backfills.c.backfill_id)
    ).scalar_one()
    rows = [
        {"backfill_id": backfill_id, "ordinal": i, "logical_time": t, "state": s, "note": n}
        for i, (t, s, n) in enumerate(dates)
    ]
    for start in range(0, len(rows), 1000):
        conn.execute(insert(backfill_dates), rows[start : start + 1000])
    return int(backfill_id)


def get_backfill(conn: Connection, backfill_id: int) -> Backfill:
    """Raises: NotFound."""
    row = conn.execute(select(backfills).where(backfills.c.backfill_id == backfill_id)).first()
    if row is None:
        raise NotFound(f"Backfill {backfill_id} does not exist.")
    return Backfill.from_row(row)


def list_backfills(conn: Connection, job_id: int | None = None, limit: int = 100) -> list[Backfill]:
    """Newest first, of one job or of all."""
    query = select(backfills).order_by(backfills.c.backfill_id.desc()).limit(limit)
    if job_id is not None:
        query = query.where(backfills.c.job_id == job_id)
    return [Backfill.from_row(r) for r in conn.execute(query)]


_RUNNING = (
    "SELECT backfill_id, job_id, created_by, created_time, options, max_concurrent, state,"
    " end_time FROM backfills WHERE state = 'RUNNING' ORDER BY backfill_id"
)


def running_backfills(conn: Any) -> list[Backfill]:
    """Backfills still starting runs, oldest first. SQL text: the coordinating loop asks on
    every pass, and a construct's compile-and-run path cost several times the query (issue 18)."""
    return [Backfill.from_row(r) for r in conn.execute(_RUNNING)]


def settled_dates(conn: Connection, job_id: int, times: list[int]) -> dict[int, str]:
    """Of `times`, those a backfill of the job already succeeded for or is running now,
    with why (for idempotent re-runs)."""
    query = (
        select(
            backfill_dates.c.logical_time,
            backfill_dates.c.backfill_id,
            runs.c.run_id,
            runs.c.life_cycle_state,
            runs.c.result_state,
        )
        .join(backfills, backfills.c.backfill_id == backfill_dates.c.backfill_id)
        .join(runs, runs.c.run_id == backfill_dates.c.run_id)
        .where(backfills.c.job_id == job_id, backfill_dates.c.logical_time.in_(times))
    )
    out: dict[int, str] = {}
    for row in conn.execute(query):
        if row.result_state == "SUCCESS":
            out[row.logical_time] = f"succeeded in run {row.run_id}"
        elif row.life_cycle_state in _ACTIVE_RUN:
            out.setdefault(row.logical_time, f"running in run {row.run_id}")
    return out


def active_run_count(conn: Connection, backfill_id: int) -> int:
    """Runs of the backfill that have not ended yet."""
    query = (
        select(func.count())
        .select_from(backfill_dates.join(runs, runs.c.run_id == backfill_dates.c.run_id))
        .where(
            backfill_dates.c.backfill_id == backfill_id,
            runs.c.life_cycle_state.in_(_ACTIVE_RUN),
        )
    )
    return int(conn.execute(query).scalar_one())


def active_runs(conn: Connection, backfill_id: int) -> list[int]:
    query = (
        select(runs.c.run_id)
        .join(backfill_dates, runs.c.run_id == backfill_dates.c.run_id)
        .where(
            backfill_dates.c.backfill_id == backfill_id,
            runs.c.life_cycle_state.in_(_ACTIVE_RUN),
        )
        .order_by(runs.c.run_id)
    )
    return [int(r) for r in conn.execute(query).scalars()]


def next_pending(conn: Connection, backfill_id: int, limit: int) -> list[tuple[int, int]]:
    """The next (ordinal, logical_time) to start, in order."""
    query = (
        select(backfill_dates.c.ordinal, backfill_dates.c.logical_time)
        .where(backfill_dates.c.backfill_id == backfill_id, backfill_dates.c.state == "PENDING")
        .order_by(backfill_dates.c.ordinal)
        .limit(limit)
    )
    return [(r.ordinal, r.logical_time) for r in conn.execute(query)]


def claim_dates(conn: Connection, backfill_id: int, taken: list[tuple[int, int]]) -> bool:
    """Mark PENDING dates ((ordinal, run id) pairs) STARTED with their runs, one statement for
    all; False if another process took any of them first (the caller rolls back)."""
    if not taken:
        return True
    stmt = (
        update(backfill_dates)
        .where(
            backfill_dates.c.backfill_id == backfill_id,
            backfill_dates.c.ordinal == bindparam("b_ordinal"),
            backfill_dates.c.state == "PENDING",
        )
        .values(state="STARTED", run_id=bindparam("b_run_id"))
    )
    conn.execute(stmt, [{"b_ordinal": ordinal, "b_run_id": run_id} for ordinal, run_id in taken])
    claimed = select(func.count()).where(
        backfill_dates.c.backfill_id == backfill_id,
        backfill_dates.c.run_id.in_([run_id for _, run_id in taken]),
    )
    return conn.execute(claimed).scalar_one() == len(taken)  # executemany's rowcount varies


def set_state(conn: Connection, backfill_id: int, state: str, end_time: int | None) -> bool:
    """Move a RUNNING backfill to DONE or CANCELED; False if it was not RUNNING."""
    done = conn.execute(
        update(backfills)
        .where(backfills.c.backfill_id == backfill_id, backfills.c.state == "RUNNING")
        .values(state=state, end_time=end_time)
    )
    return done.rowcount == 1


def cancel_pending(conn: Connection, backfill_id: int) -> int:
    done = conn.execute(
        update(backfill_dates)
        .where(backfill_dates.c.backfill_id == backfill_id, backfill_dates.c.state == "PENDING")
        .values(state="CANCELED")
    )
    return done.rowcount


def dates_of(conn: Connection, backfill_id: int) -> list[dict[str, Any]]:
    """Each date with its run's state, in start order."""
    query = (
        select(
            backfill_dates.c.ordinal,
            backfill_dates.c.logical_time,
            backfill_dates.c.state,
            backfill_dates.c.run_id,
            backfill_dates.c.note,
            runs.c.life_cycle_state,
            runs.c.result_state,
        )
        .select_from(backfill_dates.outerjoin(runs, runs.c.run_id == backfill_dates.c.run_id))
        .where(backfill_dates.c.backfill_id == backfill_id)
        .order_by(backfill_dates.c.ordinal)
    )
    return [dict(r._mapping) for r in conn.execute(query)]
