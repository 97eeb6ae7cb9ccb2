"""Signing in: the token a user types becomes an HttpOnly, SameSite session cookie.

The cookie holds the token itself, so revoking or expiring the token ends the session too and
a server restart keeps users signed in (no session table: the store's tokens are the sessions).
Every state-changing form carries a CSRF token derived from the session token (HMAC), checked
on POST: another site can neither read it nor forge it.
"""

from __future__ import annotations

import hashlib
import hmac

from fastapi import Request
from fastapi.responses import Response

from headrace.api.auth import principal_for_token
from headrace.api.errors import Unauthenticated
from headrace.engine.jobs import Principal

COOKIE = "headrace_session"
CSRF_FIELD = "csrf_token"
MAX_AGE_SECONDS = 7 * 24 * 3600


def session_token(request: Request) -> str | None:
    token = request.cookies.get(COOKIE, "").strip()
    return token or None


def principal_of_session(request: Request) -> Principal | None:
    """The signed-in user, or None (no cookie, or its token is unknown, revoked, expired)."""
    token = session_token(request)
    if token is None:
        return None
    try:
        return principal_for_token(request.app.state.ctx.store, token)
    except Unauthenticated:
        return None


def start_session(response: Response, request: Request, token: str) -> None:
    response.set_cookie(
        COOKIE,
        token,
        max_age=MAX_AGE_SECONDS,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )


def end_session(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax")


def csrf_token(session: str) -> str:
    """The form token of a session (stable for the session's life)."""
    return hmac.new(session.encode(), b"headrace-ui-csrf", hashlib.sha256).hexdigest()


def csrf_ok(request: Request, submitted: str | None) -> bool:
    session = session_token(request)
    if session is None or not submitted:
        return False
    return hmac.compare_digest(csrf_token(session), submitted)


def sign(request: Request, text: str) -> str:
    """A signature of `text` bound to this session (empty without one)."""
    session = session_token(request)
    if session is None:
        return ""
    key = csrf_token(session).encode()
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def signed_ok(request: Request, text: str, signature: str | None) -> bool:
    expected = sign(request, text)
    return bool(expected and signature) and hmac.compare_digest(expected, signature or "")
