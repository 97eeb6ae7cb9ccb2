"""Ended attempts' logs kept in the store, so every server can show what any worker wrote."""

from __future__ import annotations

from sqlalchemy import Connection, insert, select

from headrace.store.schema import attempt_logs, attempts


def save_log(conn: Connection, attempt_id: int, content_gz: bytes, size: int) -> None:
    """Keep an attempt's (gzipped, possibly tail-truncated) log; `size` is the whole log's."""
    conn.execute(insert(attempt_logs).values(attempt_id=attempt_id, content=content_gz, size=size))


def log_by_path(conn: Connection, log_path: str) -> tuple[bytes, int] | None:
    """(gzipped content, whole size) of the attempt whose log file is `log_path`, if kept."""
    row = conn.execute(
        select(attempt_logs.c.content, attempt_logs.c.size)
        .join(attempts, attempts.c.attempt_id == attempt_logs.c.attempt_id)
        .where(attempts.c.log_path == log_path)
    ).first()
    return (bytes(row[0]), int(row[1])) if row is not None else None
