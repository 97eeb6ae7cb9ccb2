"""API tokens: only their SHA-256 is stored; the token itself is shown once, at creation."""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, select, update

from headrace.errors import NotFound
from headrace.store.records import Job
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


# run-now's read (issue 18): the token, the job and its latest version in one statement
# instead of three. LEFT JOIN: a missing job is a row with NULL job columns (404, not 401).
_FIND_TOKEN_AND_JOB = (
    "SELECT t.token_id, t.user_name, t.admin, t.comment, t.created_time, t.expiry_time,"
    " t.revoked_time, j.job_id, j.name, j.settings, j.source, j.creator_user_name,"
    " j.created_time, (SELECT max(version) FROM job_versions WHERE job_id = :job_id)"
    " FROM tokens t LEFT JOIN jobs j ON j.job_id = :job_id WHERE t.token_hash = :token_hash"
)


def find_token_and_job(
    conn: Tx, token: str, job_id: int
) -> tuple[TokenInfo | None, Job | None, int | None]:
    """`find_token`, `jobs.get_job` (None: no such job) and `jobs.latest_version` in one
    statement; (None, None, None) when no stored token matches."""
    row = conn.execute(
        _FIND_TOKEN_AND_JOB, {"token_hash": token_hash(token), "job_id": job_id}
    ).first()
    if row is None:
        return None, None, None
    token_id, user_name, admin, comment, created, expiry, revoked = row[:7]
    info = TokenInfo(token_id, user_name, bool(admin), comment, created, expiry, revoked)
    if row[7] is None:
        return info, None, None
    job_id, name, settings, source, creator, job_created, version = row[7:]
    job = Job(job_id, name, json.loads(settings), source, creator, job_created)
    return info, job, version


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
