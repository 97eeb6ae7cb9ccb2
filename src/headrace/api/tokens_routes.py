"""The Token API (/api/2.0/token: create, list, delete) for a user's own tokens, and
token management (/api/2.0/token-management) for admins: list everyone's, get, revoke, create
on behalf of a user.

Tokens are the store's (only their SHA-256 is kept); a token made here acts for the same user
with the same admin flag as the token that made it. Ids are the store's, as strings.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from headrace.api.auth import principal_of
from headrace.api.context import ctx_of
from headrace.api.errors import ResourceMissing
from headrace.api.params import as_int, body_int, body_str, json_body
from headrace.engine.coordinator import now_ms
from headrace.engine.jobs import Principal
from headrace.errors import NotFound, PermissionDenied, SpecError, SpecIssue
from headrace.store import tokens as token_store
from headrace.store.tokens import TokenInfo

router = APIRouter()
Who = Depends(principal_of)
JsonBody = Depends(json_body)
MAX_LIFETIME_SECONDS = 10 * 365 * 86_400


def _info(t: TokenInfo, *, managed: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "token_id": str(t.token_id),
        "creation_time": t.created_time,
        "expiry_time": t.expiry_time if t.expiry_time is not None else -1,
        "comment": t.comment or "",
    }
    if managed:
        out |= {"created_by_username": t.user_name, "owner_id": 0, "created_by_id": 0}
    return out


def _active(t: TokenInfo, now: int) -> bool:
    return t.revoked_time is None and (t.expiry_time is None or t.expiry_time > now)


def _create(request: Request, body: dict[str, Any], user: str, admin: bool) -> Any:
    lifetime = body_int(body, "lifetime_seconds", None, minimum=0)
    if lifetime is not None and lifetime > MAX_LIFETIME_SECONDS:
        raise SpecError([SpecIssue("lifetime_seconds", f"must be at most {MAX_LIFETIME_SECONDS}")])
    now = now_ms()
    expiry = now + lifetime * 1000 if lifetime else None  # 0 or none: no expiry
    comment = body_str(body, "comment", max_len=1000)
    with ctx_of(request).store.begin() as conn:
        token_id, token = token_store.create_token(
            conn, user_name=user, admin=admin, now_ms=now, expiry_time=expiry, comment=comment
        )
        info = next(t for t in token_store.list_tokens(conn) if t.token_id == token_id)
    return {"token_value": token, "token_info": _info(info)}


def _token(request: Request, raw: Any) -> TokenInfo:
    token_id = as_int(raw, "token_id")
    with ctx_of(request).store.read() as conn:
        found = next((t for t in token_store.list_tokens(conn) if t.token_id == token_id), None)
    if found is None:
        raise ResourceMissing(f"Token with id {raw} does not exist.")
    return found


def _revoke(request: Request, token_id: int) -> None:
    with ctx_of(request).store.begin() as conn:
        try:
            token_store.revoke_token(conn, token_id, now_ms())
        except NotFound:
            raise ResourceMissing(f"Token with id {token_id} does not exist.") from None


@router.post("/token/create")
def create(request: Request, body: dict[str, Any] = JsonBody, who: Principal = Who) -> Any:
    return _create(request, body, who.user_name, who.admin)


@router.get("/token/list")
def list_own(request: Request, who: Principal = Who) -> Any:
    now = now_ms()
    with ctx_of(request).store.read() as conn:
        mine = [
            t
            for t in token_store.list_tokens(conn)
            if t.user_name == who.user_name and _active(t, now)
        ]
    return {"token_infos": [_info(t) for t in mine]}


@router.post("/token/delete")
def delete_own(request: Request, body: dict[str, Any] = JsonBody, who: Principal = Who) -> Any:
    if body.get("token_id") in (None, ""):
        raise SpecError([SpecIssue("token_id", "required")])
    found = _token(request, body["token_id"])
    if found.user_name != who.user_name or found.revoked_time is not None:
        raise ResourceMissing(f"Token with id {body['token_id']} does not exist.")
    _revoke(request, found.token_id)
    return {}


def _admin(who: Principal) -> None:
    if not who.admin:
        raise PermissionDenied(f"User {who.user_name} is not an admin: token management needs one.")


@router.get("/token-management/tokens")
def list_all(request: Request, who: Principal = Who) -> Any:
    _admin(who)
    user = request.query_params.get("created_by_username") or None
    now = now_ms()
    with ctx_of(request).store.read() as conn:
        found = [
            t
            for t in token_store.list_tokens(conn)
            if _active(t, now) and (user is None or t.user_name == user)
        ]
    return {"token_infos": [_info(t, managed=True) for t in found]}


@router.get("/token-management/tokens/{token_id}")
def get_one(request: Request, token_id: str, who: Principal = Who) -> Any:
    _admin(who)
    return {"token_info": _info(_token(request, token_id), managed=True)}


@router.delete("/token-management/tokens/{token_id}")
def revoke(request: Request, token_id: str, who: Principal = Who) -> Any:
    _admin(who)
    _revoke(request, _token(request, token_id).token_id)
    return {}


@router.post("/token-management/on-behalf-of/tokens")
def create_for(request: Request, body: dict[str, Any] = JsonBody, who: Principal = Who) -> Any:
    """A token for another user (`application_id`: the user name here; never an admin)."""
    _admin(who)
    user = body_str(body, "application_id", max_len=256)
    if not user or not user.strip():
        raise SpecError([SpecIssue("application_id", "required: the user the token acts for")])
    made = _create(request, body, user.strip(), False)
    made["token_info"] = _info(_token(request, made["token_info"]["token_id"]), managed=True)
    return made
