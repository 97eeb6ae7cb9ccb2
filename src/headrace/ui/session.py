"""Signing in: the token a user types opens a server-side session; an HttpOnly, SameSite
cookie holds the session's random id, never the token (issue 11).

Only the id's SHA-256 is stored (`store.sessions`), with the token it signed in with: signing
out deletes it, so a copied cookie stops working at once; revoking or expiring the token ends
the session too, and a server restart keeps users signed in. Every state-changing form carries
a CSRF token derived from the session id (HMAC), checked on POST: another site can neither
read it nor forge it.
"""

from __future__ import annotations

import hashlib
import hmac

from fastapi import Request
from fastapi.responses import Response

from headrace.api.auth import principal_for_token
from headrace.api.errors import Unauthenticated
from headrace.engine.coordinator import now_ms
from headrace.engine.jobs import Principal
from headrace.store import sessions as session_store

COOKIE = "headrace_session"
CSRF_FIELD = "csrf_token"
MAX_AGE_SECONDS = 7 * 24 * 3600


def session_token(request: Request) -> str | None:
    token = request.cookies.get(COOKIE, "").strip()
    return token or None


def principal_of_session(request: Request) -> Principal | None:
    """The signed-in user, or None (no cookie, an unknown or ended session, or its token is
    revoked or expired)."""
    session_id = session_token(request)
    if session_id is None:
        return None
    now = now_ms()
    with request.app.state.ctx.store.read() as conn:
        info = session_store.find_session(conn, session_id, now_ms=now)
    if info is None or info.revoked_time is not None:
        return None
    if info.expiry_time is not None and info.expiry_time <= now:
        return None
    return Principal(info.user_name, admin=info.admin)


def start_session(response: Response, request: Request, token: str) -> None:
    """Open a session for a valid token and set its cookie. Raises: Unauthenticated."""
    principal_for_token(request.app.state.ctx.store, token)
    now = now_ms()
    with request.app.state.ctx.store.begin() as conn:
        session_id = session_store.create_session(
            conn, token, now_ms=now, expiry_time=now + MAX_AGE_SECONDS * 1000
        )
    if session_id is None:
        raise Unauthenticated("Invalid access token.")
    response.set_cookie(
        COOKIE,
        session_id,
        max_age=MAX_AGE_SECONDS,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )


def end_session(response: Response, request: Request | None = None) -> None:
    """Sign out: forget the session server-side (its cookie is dead everywhere) and drop it."""
    session_id = session_token(request) if request is not None else None
    if session_id is not None:
        with request.app.state.ctx.store.begin() as conn:  # type: ignore[union-attr]
            session_store.end_session(conn, session_id)
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
