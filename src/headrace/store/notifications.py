"""The notification outbox and notification destinations.

Delivery is claim-send-record: `claim_due` marks rows SENDING under a lease (a crashed
sender's rows become claimable again when the lease expires), `mark_delivered` /
`mark_failed_attempt` record the result, guarded on the claim so a slow sender whose lease
was taken over cannot overwrite the new owner's result.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from headrace.errors import NotFound
from headrace.store.columns import insert, insert_many
from headrace.store.sql import Tx as Connection
from headrace.store.sql import set_clause

PENDING, SENDING, DELIVERED, FAILED = "PENDING", "SENDING", "DELIVERED", "FAILED"


@dataclass(frozen=True)
class Notification:
    """One outbox row: a message to one recipient about one event."""

    notification_id: int
    run_id: int
    task_run_id: int | None
    task_key: str | None
    event: str
    channel: str
    target: str
    facts: dict[str, Any]
    state: str
    attempts: int
    next_attempt_at: int
    lease_until: int | None
    last_error: str | None
    created_time: int
    delivered_time: int | None

    @classmethod
    def from_row(cls, row: Any) -> Notification:
        m = row._mapping
        values = {k: m[k] for k in cls.__dataclass_fields__ if k != "facts"}
        return cls(**values, facts=json.loads(m["facts"]))


@dataclass(frozen=True)
class Destination:
    """A notification destination an admin set up; `config` holds its secrets."""

    destination_id: str
    display_name: str
    destination_type: str
    config: dict[str, Any]
    created_by: str | None
    created_time: int

    @classmethod
    def from_row(cls, row: Any) -> Destination:
        m = row._mapping
        values = {k: m[k] for k in cls.__dataclass_fields__ if k != "config"}
        return cls(**values, config=json.loads(m["config"]))


# --- the outbox -------------------------------------------------------------------------------


def add_notifications(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Queue messages (in the caller's transaction); each row's dedup_key must be new."""
    if rows:
        conn.execute(*insert_many("notifications", list(rows)))


def existing_keys(conn: Connection, keys: Sequence[str]) -> set[str]:
    """Which of these dedup keys are already in the outbox."""
    if not keys:
        return set()
    stmt = "SELECT dedup_key FROM notifications WHERE dedup_key IN :keys"
    return {r[0] for r in conn.execute(stmt, {"keys": list(keys)})}


_DUE = (
    "SELECT * FROM notifications WHERE (state = 'PENDING' AND next_attempt_at <= :now)"
    " OR (state = 'SENDING' AND lease_until <= :now) ORDER BY notification_id LIMIT :limit"
)
_CLAIM = (
    "UPDATE notifications SET state = 'SENDING', attempts = :attempts + 1, lease_until = :lease,"
    " claimed_by = :worker WHERE notification_id = :id AND state = :state"
    " AND attempts = :attempts"
)


def claim_due(
    conn: Connection, worker: str, now_ms: int, lease_ms: int, limit: int
) -> list[Notification]:
    """Mark up to `limit` due rows SENDING for `worker` (pending ones, and sending ones whose
    sender's lease expired) and count the attempt; returns them."""
    stmt = _DUE + (" FOR UPDATE SKIP LOCKED" if conn.dialect.name == "postgresql" else "")
    claimed = []
    for row in conn.execute(stmt, {"now": now_ms, "limit": limit}).all():
        n = Notification.from_row(row)
        params = {
            "attempts": n.attempts,
            "lease": now_ms + lease_ms,
            "worker": worker,
            "id": n.notification_id,
            "state": n.state,
        }
        if conn.execute(_CLAIM, params).rowcount:
            claimed.append(n)
    return claimed


# A row is still this sender's: its claim (state, claimer, attempt count) is unchanged.
_OWNED = (
    " WHERE notification_id = :b_id AND state = 'SENDING' AND claimed_by = :b_worker"
    " AND attempts = :b_attempts"
)


def _update_owned(conn: Connection, n: Notification, worker: str, values: dict[str, Any]) -> bool:
    stmt = f"UPDATE notifications SET {set_clause(values)}{_OWNED}"
    params = {**values, "b_id": n.notification_id, "b_worker": worker}
    return conn.execute(stmt, {**params, "b_attempts": n.attempts + 1}).rowcount == 1


def mark_delivered(conn: Connection, n: Notification, worker: str, now_ms: int) -> bool:
    """Record a sent message; False if another sender took the row over meanwhile."""
    values = {"state": DELIVERED, "delivered_time": now_ms, "lease_until": None, "last_error": None}
    return _update_owned(conn, n, worker, values)


def mark_failed_attempt(
    conn: Connection, n: Notification, worker: str, error: str, retry_at: int | None
) -> bool:
    """Record a failed send: retried at `retry_at`, or given up (FAILED) when None."""
    values: dict[str, Any] = {"last_error": error[:2000], "lease_until": None}
    if retry_at is None:
        values["state"] = FAILED
    else:
        values.update(state=PENDING, next_attempt_at=retry_at)
    return _update_owned(conn, n, worker, values)


_NEXT_DUE = (
    "SELECT (SELECT min(next_attempt_at) FROM notifications WHERE state = 'PENDING'),"
    " (SELECT min(lease_until) FROM notifications WHERE state = 'SENDING')"
)


def next_due_at(conn: Connection) -> int | None:
    """When the next pending row (or expiring lease) is due."""
    # One statement, not two: the delivery loop asks after every run's end (issue 18).
    pending, leased = conn.execute(_NEXT_DUE).one()
    present = [t for t in (pending, leased) if t is not None]
    return min(present) if present else None


def has_undelivered(conn: Connection) -> bool:
    """True if any message waits to be sent (cheap: one indexed probe)."""
    stmt = "SELECT notification_id FROM notifications WHERE state IN ('PENDING', 'SENDING') LIMIT 1"
    return conn.execute(stmt).first() is not None


def list_notifications(
    conn: Connection, *, run_ids: Sequence[int] | None = None, limit: int = 100
) -> list[Notification]:
    """Outbox rows, newest first (of the given runs, if any)."""
    params: dict[str, Any] = {"limit": limit}
    where = ""
    if run_ids is not None:
        if not run_ids:
            return []
        where = " WHERE run_id IN :run_ids"
        params["run_ids"] = list(run_ids)
    stmt = f"SELECT * FROM notifications{where} ORDER BY notification_id DESC LIMIT :limit"
    return [Notification.from_row(r) for r in conn.execute(stmt, params)]


# --- destinations -----------------------------------------------------------------------------


def insert_destination(conn: Connection, **values: Any) -> None:
    """Store a destination (config as a dict)."""
    values["config"] = json.dumps(values["config"])
    conn.execute(*insert("notification_destinations", values))


def get_destination(conn: Connection, destination_id: str) -> Destination:
    """One destination. Raises: NotFound."""
    stmt = "SELECT * FROM notification_destinations WHERE destination_id = :id"
    row = conn.execute(stmt, {"id": destination_id}).first()
    if row is None:
        raise NotFound(f"Notification destination {destination_id} does not exist.")
    return Destination.from_row(row)


def list_destinations(conn: Connection) -> list[Destination]:
    """Every destination, oldest first."""
    stmt = "SELECT * FROM notification_destinations ORDER BY created_time, destination_id"
    return [Destination.from_row(r) for r in conn.execute(stmt)]


def update_destination(conn: Connection, destination_id: str, **values: Any) -> None:
    """Change a destination's name or config. Raises: NotFound."""
    if "config" in values:
        values["config"] = json.dumps(values["config"])
    stmt = f"UPDATE notification_destinations SET {set_clause(values)} WHERE destination_id = :b_id"
    changed = conn.execute(stmt, {**values, "b_id": destination_id}).rowcount
    if not changed:
        raise NotFound(f"Notification destination {destination_id} does not exist.")


def delete_destination(conn: Connection, destination_id: str) -> None:
    """Remove a destination. Raises: NotFound."""
    stmt = "DELETE FROM notification_destinations WHERE destination_id = :id"
    changed = conn.execute(stmt, {"id": destination_id}).rowcount
    if not changed:
        raise NotFound(f"Notification destination {destination_id} does not exist.")


def queue_messages(
    conn: Connection,
    *,
    run_id: int,
    event: str,
    messages: Sequence[tuple[str, str, str]],
    facts: dict[str, Any],
    now_ms: int,
    task_run_id: int | None = None,
    task_key: str | None = None,
) -> int:
    """Add one outbox row per (dedup_key, channel, target), skipping keys already queued: a
    row must never make the state change it rides on fail. Returns how many were added."""
    known = existing_keys(conn, [m[0] for m in messages])
    text = json.dumps(facts)
    rows = [
        {
            "run_id": run_id,
            "task_run_id": task_run_id,
            "task_key": task_key,
            "event": event,
            "channel": channel,
            "target": target,
            "facts": text,
            "dedup_key": key,
            "state": PENDING,
            "attempts": 0,
            "next_attempt_at": now_ms,
            "created_time": now_ms,
        }
        for key, channel, target in messages
        if key not in known
    ]
    add_notifications(conn, rows)
    return len(rows)
