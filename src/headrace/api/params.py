"""Reading request fields with errors that name them (query strings and JSON bodies)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request

from headrace.api.errors import MalformedRequest
from headrace.errors import SpecError, SpecIssue
from headrace.spec.bounds import depth_issue

_MISSING: Any = object()


def _bad(name: str, reason: str) -> SpecError:
    return SpecError([SpecIssue(name, reason)])


async def json_body(request: Request) -> dict[str, Any]:
    """The request's body as a JSON object; empty means `{}`.

    Read whatever the Content-Type says: `curl -d '{...}'` sends a form type, and Databricks
    takes it as JSON all the same.
    """
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except ValueError as exc:  # UnicodeDecodeError is a ValueError too
        raise MalformedRequest(f"Invalid JSON given in the body of the request: {exc}") from None
    except RecursionError:
        raise MalformedRequest(
            "Invalid JSON given in the body of the request: nested too deeply"
        ) from None
    if not isinstance(value, dict):
        raise MalformedRequest(
            "Invalid JSON given in the body of the request - expected an object, "
            f"got {type(value).__name__ if value is not None else 'null'}"
        )
    too_deep = depth_issue(value)  # before any handler walks it (issue 11: 500s)
    if too_deep is not None:
        raise SpecError([too_deep])
    return value


def as_int(value: Any, name: str, *, minimum: int | None = None) -> int:
    """An int64 field (Databricks clients may send int64 as strings)."""
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise _bad(name, f"must be an integer, got {value!r}")  # also inf and nan
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise _bad(name, f"must be an integer, got {value!r}") from None
    if not -(2**63) <= number < 2**63:
        raise _bad(name, f"must be a 64-bit integer, got {number}")
    if minimum is not None and number < minimum:
        raise _bad(name, f"must be at least {minimum}, got {number}")
    return number


def query_int(
    request: Request, name: str, default: Any = _MISSING, *, minimum: int | None = None
) -> Any:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        if default is _MISSING:
            raise _bad(name, "required")
        return default
    return as_int(raw, name, minimum=minimum)


def query_bool(request: Request, name: str, default: bool = False) -> bool:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("true", "1"):
        return True
    if raw.lower() in ("false", "0"):
        return False
    raise _bad(name, f"must be true or false, got {raw!r}")


def body_int(body: dict[str, Any], name: str, default: Any = _MISSING, **kw: Any) -> Any:
    if body.get(name) is None:
        if default is _MISSING:
            raise _bad(name, "required")
        return default
    return as_int(body[name], name, **kw)


def body_bool(body: dict[str, Any], name: str, default: bool = False) -> bool:
    value = body.get(name)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise _bad(name, f"must be true or false, got {value!r}")
    return value


def body_str_map(body: dict[str, Any], name: str) -> dict[str, str]:
    value = body.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _bad(name, "must be an object of name: value")
    return {str(k): v if isinstance(v, str) else str(v) for k, v in value.items()}


def body_str_list(body: dict[str, Any], name: str) -> list[str]:
    value = body.get(name)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _bad(name, "must be a list of strings")
    return value


def body_str(body: dict[str, Any], name: str, *, max_len: int | None = None) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _bad(name, "must be a string")
    if max_len is not None and len(value) > max_len:
        raise _bad(name, f"must be at most {max_len} characters")
    return value


def queue_override(body: dict[str, Any]) -> bool | None:
    value = body.get("queue")
    if value is None:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("enabled"), bool):
        raise _bad("queue", 'must be {"enabled": true|false}')
    return value["enabled"]
