"""The Secrets API under /api/2.0/secrets: scopes (create, list, delete), secrets (put, list,
delete, get), ACLs (put, get, list, delete), as `w.secrets` and `databricks secrets` call them.

Values are encrypted at rest and back `dbutils.secrets` in tasks (runtime/secret_store.py);
`list` never returns values.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request

from headrace.api.auth import principal_of
from headrace.api.context import ctx_of
from headrace.api.errors import ResourceMissing
from headrace.api.params import body_str, json_body
from headrace.engine.jobs import Principal
from headrace.engine.workspace import PathExists
from headrace.errors import PermissionDenied, SpecError, SpecIssue
from headrace.runtime.secret_store import (
    Caller,
    SecretDenied,
    SecretExists,
    SecretNotFound,
    SecretStore,
)
from headrace.runtime.secrets import SecretError

router = APIRouter(prefix="/secrets")
Who = Depends(principal_of)
JsonBody = Depends(json_body)


def _store(request: Request) -> SecretStore:
    home = ctx_of(request).settings.home
    explicit = os.environ.get("HEADRACE_SECRETS_DIR")
    directory = Path(explicit).expanduser() if explicit else home / "secrets"
    return SecretStore(directory, home)


@contextmanager
def _errors() -> Iterator[None]:
    """The store's errors as the API's (404, 409, 403, 400)."""
    try:
        yield
    except SecretNotFound as exc:
        raise ResourceMissing(str(exc)) from None
    except SecretExists as exc:
        raise PathExists(str(exc)) from None
    except SecretDenied as exc:
        raise PermissionDenied(str(exc)) from None
    except SecretError as exc:
        raise SpecError(str(exc)) from None


def _caller(who: Principal) -> Caller:
    return Caller(who.user_name, who.admin)


def _required(body: dict[str, Any], name: str) -> str:
    value = body_str(body, name)
    if not value:
        raise SpecError([SpecIssue(name, "required")])
    return value


def _query(request: Request, name: str) -> str:
    value = request.query_params.get(name)
    if not value:
        raise SpecError([SpecIssue(name, "required")])
    return value


@router.post("/scopes/create")
def create_scope(request: Request, body: dict[str, Any] = JsonBody, who: Principal = Who) -> Any:
    backend = body.get("scope_backend_type")
    if backend not in (None, "DATABRICKS"):
        raise SpecError([SpecIssue("scope_backend_type", "only DATABRICKS scopes are kept here")])
    with _errors():
        _store(request).create_scope(
            _required(body, "scope"), _caller(who), body_str(body, "initial_manage_principal")
        )
    return {}


@router.get("/scopes/list")
def list_scopes(request: Request, who: Principal = Who) -> Any:
    names = _store(request).list_scopes()
    return {"scopes": [{"name": n, "backend_type": "DATABRICKS"} for n in names]}


@router.post("/scopes/delete")
def delete_scope(request: Request, body: dict[str, Any] = JsonBody, who: Principal = Who) -> Any:
    with _errors():
        _store(request).delete_scope(_required(body, "scope"), _caller(who))
    return {}


@router.post("/put")
def put_secret(request: Request, body: dict[str, Any] = JsonBody, who: Principal = Who) -> Any:
    text, raw = body.get("string_value"), body.get("bytes_value")
    if (text is None) == (raw is None):
        raise SpecError(
            [SpecIssue("string_value", "give exactly one of string_value, bytes_value")]
        )
    if text is not None:
        value = _required(body, "string_value").encode() if text != "" else b""
    else:
        try:
            value = base64.b64decode(_required(body, "bytes_value"), validate=True)
        except (binascii.Error, ValueError):
            raise SpecError([SpecIssue("bytes_value", "must be base64-encoded")]) from None
    with _errors():
        _store(request).put(_required(body, "scope"), _required(body, "key"), value, _caller(who))
    return {}


@router.get("/list")
def list_secrets(request: Request, who: Principal = Who) -> Any:
    with _errors():
        keys = _store(request).keys(_query(request, "scope"), _caller(who))
    return {"secrets": [{"key": k, "last_updated_timestamp": t} for k, t in keys]}


@router.get("/get")
def get_secret(request: Request, who: Principal = Who) -> Any:
    key = _query(request, "key")
    with _errors():
        value = _store(request).get(_query(request, "scope"), key, _caller(who))
    return {"key": key, "value": base64.b64encode(value).decode()}


@router.post("/delete")
def delete_secret(request: Request, body: dict[str, Any] = JsonBody, who: Principal = Who) -> Any:
    with _errors():
        _store(request).delete(_required(body, "scope"), _required(body, "key"), _caller(who))
    return {}


@router.post("/acls/put")
def put_acl(request: Request, body: dict[str, Any] = JsonBody, who: Principal = Who) -> Any:
    with _errors():
        _store(request).put_acl(
            _required(body, "scope"),
            _required(body, "principal"),
            _required(body, "permission"),
            _caller(who),
        )
    return {}


@router.post("/acls/delete")
def delete_acl(request: Request, body: dict[str, Any] = JsonBody, who: Principal = Who) -> Any:
    with _errors():
        _store(request).delete_acl(
            _required(body, "scope"), _required(body, "principal"), _caller(who)
        )
    return {}


@router.get("/acls/list")
def list_acls(request: Request, who: Principal = Who) -> Any:
    with _errors():
        items = _store(request).list_acls(_query(request, "scope"), _caller(who))
    return {"items": [{"principal": p, "permission": level} for p, level in items]}


@router.get("/acls/get")
def get_acl(request: Request, who: Principal = Who) -> Any:
    principal = _query(request, "principal")
    with _errors():
        items = dict(_store(request).list_acls(_query(request, "scope"), _caller(who)))
    if principal not in items:
        raise ResourceMissing(f"No ACL for principal {principal}")
    return {"principal": principal, "permission": items[principal]}
