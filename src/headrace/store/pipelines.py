"""Pipelines (Spark Declarative Pipelines) and their updates, in the SQL store.

Rows only: the rules (settings checks, one active update per pipeline, a dead update process
is FAILED) are `engine.pipelines`'. Settings and an update's frozen config are JSON text, as the
Pipelines API gives them.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from headrace.store.schema import pipeline_updates, pipelines


def _pipeline(row: Any) -> dict[str, Any]:
    return {
        "pipeline_id": row.pipeline_id,
        "name": row.name,
        "spec": json.loads(row.spec),
        "bundle": row.bundle,
        "creator_user_name": row.creator_user_name,
        "created": row.created_time,
        "last_modified": row.last_modified,
    }


def _update(row: Any) -> dict[str, Any]:
    out = {
        "pipeline_id": row.pipeline_id,
        "update_id": row.update_id,
        "state": row.state,
        "cause": row.cause,
        "creation_time": row.creation_time,
        "full_refresh": bool(row.full_refresh),
        "config": json.loads(row.config),
        "host": row.host,
        "pid": row.pid,
        "lease_until": row.lease_until,
    }
    if row.state_message:
        out["state_message"] = row.state_message
    return out


def insert_pipeline(conn: Connection, record: dict[str, Any]) -> None:
    conn.execute(
        insert(pipelines).values(
            pipeline_id=record["pipeline_id"],
            name=record["name"],
            spec=json.dumps(record["spec"]),
            bundle=record.get("bundle"),
            creator_user_name=record.get("creator_user_name"),
            created_time=record["created"],
            last_modified=record["last_modified"],
        )
    )


def replace_spec(conn: Connection, pipeline_id: str, name: str, spec: dict, now: int) -> int:
    """New settings of a pipeline; the number of rows changed (0: no such pipeline)."""
    result = conn.execute(
        update(pipelines)
        .where(pipelines.c.pipeline_id == pipeline_id)
        .values(name=name, spec=json.dumps(spec), last_modified=now)
    )
    return result.rowcount or 0


def delete_pipeline(conn: Connection, pipeline_id: str) -> int:
    conn.execute(delete(pipeline_updates).where(pipeline_updates.c.pipeline_id == pipeline_id))
    return conn.execute(delete(pipelines).where(pipelines.c.pipeline_id == pipeline_id)).rowcount


def lock_pipeline(conn: Connection, pipeline_id: str) -> bool:
    """Lock the pipeline's row for the rest of the transaction (PostgreSQL: FOR UPDATE; SQLite
    write transactions are serial already), so two starts of an update queue; False: no row."""
    query = select(pipelines.c.pipeline_id).where(pipelines.c.pipeline_id == pipeline_id)
    return conn.execute(query.with_for_update()).first() is not None


def set_active_update(
    conn: Connection, update_id: str, fields: dict[str, Any], terminal: tuple[str, ...]
) -> int:
    """Fields of an update that is still active (an ended update keeps its verdict: its owner
    and a reader settling an expired lease may race); the number of rows changed."""
    names = ("state", "state_message", "host", "pid", "lease_until")
    allowed = {k: v for k, v in fields.items() if k in names}
    result = conn.execute(
        update(pipeline_updates)
        .where(pipeline_updates.c.update_id == update_id, pipeline_updates.c.state.not_in(terminal))
        .values(**allowed)
    )
    return result.rowcount or 0


def get_pipeline(conn: Connection, pipeline_id: str) -> dict[str, Any] | None:
    row = conn.execute(select(pipelines).where(pipelines.c.pipeline_id == pipeline_id)).first()
    return _pipeline(row) if row is not None else None


def all_pipelines(conn: Connection) -> list[dict[str, Any]]:
    rows = conn.execute(select(pipelines).order_by(pipelines.c.name, pipelines.c.pipeline_id))
    return [_pipeline(r) for r in rows]


def ids_named(conn: Connection, name: str) -> list[str]:
    rows = conn.execute(select(pipelines.c.pipeline_id).where(pipelines.c.name == name))
    return [r.pipeline_id for r in rows]


def ids_of_bundle(conn: Connection, tag: str) -> list[str]:
    rows = conn.execute(select(pipelines.c.pipeline_id).where(pipelines.c.bundle == tag))
    return [r.pipeline_id for r in rows]


def insert_update(conn: Connection, record: dict[str, Any]) -> None:
    conn.execute(
        insert(pipeline_updates).values(
            update_id=record["update_id"],
            pipeline_id=record["pipeline_id"],
            state=record["state"],
            state_message=record.get("state_message"),
            cause=record["cause"],
            full_refresh=bool(record.get("full_refresh")),
            config=json.dumps(record["config"]),
            creation_time=record["creation_time"],
            host=record.get("host"),
            pid=record.get("pid"),
            lease_until=record.get("lease_until"),
        )
    )


def set_update_fields(conn: Connection, update_id: str, fields: dict[str, Any]) -> None:
    """State, state_message, host, pid or lease_until of an update."""
    names = ("state", "state_message", "host", "pid", "lease_until")
    allowed = {k: v for k, v in fields.items() if k in names}
    if allowed:
        conn.execute(
            update(pipeline_updates)
            .where(pipeline_updates.c.update_id == update_id)
            .values(**allowed)
        )


def get_update(conn: Connection, pipeline_id: str, update_id: str) -> dict[str, Any] | None:
    row = conn.execute(
        select(pipeline_updates).where(
            pipeline_updates.c.update_id == update_id,
            pipeline_updates.c.pipeline_id == pipeline_id,
        )
    ).first()
    return _update(row) if row is not None else None


def updates_of(conn: Connection, pipeline_id: str) -> list[dict[str, Any]]:
    """The pipeline's updates, newest first."""
    rows = conn.execute(
        select(pipeline_updates)
        .where(pipeline_updates.c.pipeline_id == pipeline_id)
        .order_by(pipeline_updates.c.creation_time.desc(), pipeline_updates.c.update_id)
    )
    return [_update(r) for r in rows]
