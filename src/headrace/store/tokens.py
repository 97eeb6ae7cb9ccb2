"""API tokens: only their SHA-256 is stored; the token itself is shown once, at creation."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, select, update

from headrace.errors import NotFound
from headrace.store.schema import tokens
from headrace.store.sql import Tx

TOKEN_PREFIX = "hdr_"


@dataclass(frozen=True)
class TokenInfo:
    """A stored token, without its secret."""

    token_id: int
    user_name: str
    admin: bool
    comment: str | None
    created_time: int
    expiry_time: int | None
    revoked_time: int | None

    @classmethod
    def from_row(cls, row: Any) -> TokenInfo:
        m = row._mapping
        return cls(**{k: m[k] for k in cls.__dataclass_fields__})


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(
    conn: Connection,
    *,
    user_name: str,
    admin: bool,
    now_ms: int,
    expiry_time: int | None,
    comment: str | None = None,
) -> tuple[int, str]:
    """A new token for `user_name`; returns (token id, the token) — the only time it is seen."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token_id = conn.execute(
        insert(tokens).values(
            token_hash=token_hash(token),
            user_name=user_name,
            admin=admin,
            comment=comment,
            created_time=now_ms,
            expiry_time=expiry_time,
        )
    ).inserted_primary_key[0]
    return token_id, token


_FIND_TOKEN = (
    "SELECT token_id, user_name, admin, comment, created_time, expiry_time, revoked_time"
    " FROM tokens WHERE token_hash = :token_hash"
)


def find_token(conn: Tx, token: str) -> TokenInfo | None:
    """The stored token matching `token` (compared by hash), revoked or not.

    SQL text, not a construct: every API call asks this, and SQLAlchemy's compile-and-run
    path cost as much again as the statement itself (issue 18)."""
    row = conn.execute(_FIND_TOKEN, {"token_hash": token_hash(token)}).first()
    if row is None:
        return None
    token_id, user_name, admin, comment, created, expiry, revoked = row
    # SQLite's sqlite3 hands a Boolean column back as 0/1.
    return TokenInfo(token_id, user_name, bool(admin), comment, created, expiry, revoked)


def list_tokens(conn: Connection) -> list[TokenInfo]:
    """Every token, oldest first."""
    return [TokenInfo.from_row(r) for r in conn.execute(select(tokens).order_by(tokens.c.token_id))]


def revoke_token(conn: Connection, token_id: int, now_ms: int) -> None:
    """Revoke a token. Raises: NotFound."""
    done = conn.execute(
        update(tokens).where(tokens.c.token_id == token_id).values(revoked_time=now_ms)
    ).rowcount
    if not done:
        raise NotFound(f"no token with id {token_id}")
