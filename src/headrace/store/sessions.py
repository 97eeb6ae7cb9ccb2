"""UI sessions: the cookie holds a random id; only its SHA-256 is stored, with the token it
signed in with (issue 11: the cookie never holds the API token)."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import Connection, delete, insert, select

from headrace.store.schema import tokens, ui_sessions
from headrace.store.tokens import TokenInfo, token_hash

SESSION_PREFIX = "hds_"


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def create_session(conn: Connection, token: str, *, now_ms: int, expiry_time: int) -> str | None:
    """A new session for a stored token (None if unknown); returns the id, seen only now.

    Expired sessions of every user are dropped on the way (they are few and cheap to find).
    """
    token_id = conn.execute(
        select(tokens.c.token_id).where(tokens.c.token_hash == token_hash(token))
    ).scalar()
    if token_id is None:
        return None
    conn.execute(delete(ui_sessions).where(ui_sessions.c.expiry_time <= now_ms))
    session_id = SESSION_PREFIX + secrets.token_urlsafe(32)
    conn.execute(
        insert(ui_sessions).values(
            session_hash=_hash(session_id),
            token_id=token_id,
            created_time=now_ms,
            expiry_time=expiry_time,
        )
    )
    return session_id


def find_session(conn: Connection, session_id: str, *, now_ms: int) -> TokenInfo | None:
    """The token behind a live session (revoked or expired tokens included), else None."""
    row = conn.execute(
        select(tokens)
        .join(ui_sessions, ui_sessions.c.token_id == tokens.c.token_id)
        .where(ui_sessions.c.session_hash == _hash(session_id))
        .where(ui_sessions.c.expiry_time > now_ms)
    ).first()
    return TokenInfo.from_row(row) if row is not None else None


def end_session(conn: Connection, session_id: str) -> None:
    """Forget a session (signing out): its cookie no longer signs anyone in."""
    conn.execute(delete(ui_sessions).where(ui_sessions.c.session_hash == _hash(session_id)))
