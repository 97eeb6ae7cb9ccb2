"""Bearer tokens: every API call but /health and the SDK's config probe needs one."""

from __future__ import annotations

from fastapi import Request

from headrace.api.errors import Unauthenticated
from headrace.engine.coordinator import now_ms
from headrace.engine.jobs import Principal
from headrace.store import tokens as token_store
from headrace.store.db import Store
from headrace.store.records import Job
from headrace.store.sql import Tx
from headrace.store.tokens import TokenInfo


def principal_of(request: Request) -> Principal:
    """The user behind the request's token. Raises: Unauthenticated."""
    return principal_for_token(request.app.state.ctx.store, bearer_token(request))


def bearer_token(request: Request) -> str:
    """The request's bearer token. Raises: Unauthenticated (no token sent)."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("missing token: send 'Authorization: Bearer <token>'")
    return token.strip()


def principal_for_token(store: Store, token: str) -> Principal:
    """The user a token stands for (the API's bearer or the UI's session). Raises:
    Unauthenticated."""
    with store.read() as conn:
        info = token_store.find_token(conn, token)
    return _principal(info)


def principal_and_job(
    conn: Tx, token: str, job_id: int
) -> tuple[Principal, Job | None, int | None]:
    """The user behind `token` with the job (None: no such job) and its latest version, read
    in one statement in a transaction the caller goes on using (run-now, issue 18). Raises:
    Unauthenticated."""
    info, job, version = token_store.find_token_and_job(conn, token, job_id)
    return _principal(info), job, version


def _principal(info: TokenInfo | None) -> Principal:
    if info is None:
        raise Unauthenticated("Invalid access token.")
    if info.revoked_time is not None:
        raise Unauthenticated("This token has been revoked.")
    if info.expiry_time is not None and info.expiry_time <= now_ms():
        raise Unauthenticated("This token has expired.")
    return Principal(info.user_name, admin=info.admin)
