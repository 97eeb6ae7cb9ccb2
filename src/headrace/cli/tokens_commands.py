"""`headrace tokens create | list | revoke`."""

from __future__ import annotations

import json
import re
import sys
from typing import Any

from headrace.config import Settings
from headrace.engine.coordinator import now_ms
from headrace.errors import SpecError, SpecIssue
from headrace.store import tokens as token_store
from headrace.store.db import Store

_UNITS = {"d": 86_400_000, "h": 3_600_000, "m": 60_000}


def parse_lifetime(text: str) -> int:
    """Milliseconds in a lifetime like `90d`, `12h` or `30m`. Raises: SpecError."""
    match = re.fullmatch(r"\s*(\d+)\s*([dhm])\s*", text)
    if match is None or int(match.group(1)) == 0:
        raise SpecError([SpecIssue("--lifetime", f"expected e.g. 90d, 12h or 30m, got {text!r}")])
    return int(match.group(1)) * _UNITS[match.group(2)]


def create_token(
    settings: Settings,
    store: Store,
    *,
    user: str,
    admin: bool,
    lifetime: str | None,
    comment: str | None,
) -> str:
    if not user.strip():
        raise SpecError([SpecIssue("--user", "must not be empty")])
    now = now_ms()
    expiry = now + parse_lifetime(lifetime) if lifetime is not None else None
    with store.begin() as conn:
        _, token = token_store.create_token(
            conn,
            user_name=user.strip(),
            admin=admin,
            now_ms=now,
            expiry_time=expiry,
            comment=comment,
        )
    return token


def list_tokens(settings: Settings, store: Store, *, as_json: bool) -> None:
    with store.read() as conn:
        tokens = token_store.list_tokens(conn)
    rows: list[dict[str, Any]] = [t.__dict__ for t in tokens]
    if as_json:
        sys.stdout.write(json.dumps({"tokens": rows}, indent=2) + "\n")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table()
    for col in ("id", "user", "admin", "expires", "state", "comment"):
        table.add_column(col)
    now = now_ms()
    for t in tokens:
        state = (
            "revoked"
            if t.revoked_time
            else "expired"
            if t.expiry_time and t.expiry_time <= now
            else "active"
        )
        expires = (
            "never" if t.expiry_time is None else f"in {(t.expiry_time - now) / 86_400_000:.1f} d"
        )
        table.add_row(
            str(t.token_id), t.user_name, "yes" if t.admin else "", expires, state, t.comment or ""
        )
    Console().print(table)


def revoke_token(settings: Settings, store: Store, token_id: int) -> None:
    with store.begin() as conn:
        token_store.revoke_token(conn, token_id, now_ms())
    print(f"token {token_id} revoked", file=sys.stderr)
