"""Outbox rows as JSON, for the API, the CLI and the run page (no secrets: a webhook shows
its destination id, never its URL)."""

from __future__ import annotations

from typing import Any

from headrace.store import notifications as outbox


def notification_to_api(n: outbox.Notification) -> dict[str, Any]:
    """One delivery as JSON."""
    return {
        "notification_id": n.notification_id,
        "run_id": n.run_id,
        "task_run_id": n.task_run_id,
        "task_key": n.task_key,
        "event": n.event,
        "channel": n.channel,
        "target": n.target,
        "state": n.state,
        "attempts": n.attempts,
        "last_error": n.last_error,
        "created_time": n.created_time,
        "next_attempt_time": n.next_attempt_at if n.state == outbox.PENDING else None,
        "delivered_time": n.delivered_time,
    }
