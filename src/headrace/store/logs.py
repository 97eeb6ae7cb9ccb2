"""Ended attempts' logs kept in the store, so every server can show what any worker wrote."""

from __future__ import annotations

from headrace.store.sql import Tx as Connection


def save_log(conn: Connection, attempt_id: int, content_gz: bytes, size: int) -> None:
    """Keep an attempt's (gzipped, possibly tail-truncated) log; `size` is the whole log's."""
    conn.execute(
        "INSERT INTO attempt_logs (attempt_id, content, size) VALUES (:id, :content, :size)",
        {"id": attempt_id, "content": content_gz, "size": size},
    )


def log_by_path(conn: Connection, log_path: str) -> tuple[bytes, int] | None:
    """(gzipped content, whole size) of the attempt whose log file is `log_path`, if kept."""
    row = conn.execute(
        "SELECT attempt_logs.content, attempt_logs.size FROM attempt_logs JOIN attempts"
        " ON attempts.attempt_id = attempt_logs.attempt_id WHERE attempts.log_path = :path",
        {"path": log_path},
    ).first()
    return (bytes(row[0]), int(row[1])) if row is not None else None
