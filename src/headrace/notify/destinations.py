"""Notification destinations (Databricks' `/api/2.0/notification-destinations`): validate,
store, and show them without their secrets.

A destination's `config` wraps exactly one of `email`, `generic_webhook`, `slack`,
`microsoft_teams`, `pagerduty`. URLs, passwords and keys are input-only, as on Databricks:
reads answer `url_set: true` instead of the URL.

Those secret fields are stored sealed (issue 11): Fernet-encrypted with the Secrets API's key
(`HEADRACE_SECRETS_KEY`, else `<home>/secrets.key`, made 0600 on first use), so the store
file or a database dump does not give them away. Servers sharing a PostgreSQL store need the
same `HEADRACE_SECRETS_KEY`. Rows stored before keep working (plain values pass through).
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlsplit

from headrace.errors import PermissionDenied, SpecError, SpecIssue
from headrace.store import notifications as outbox
from headrace.store.db import Store

# config key -> (destination_type, {field: secret?}, required fields)
KINDS: dict[str, tuple[str, dict[str, bool], tuple[str, ...]]] = {
    "email": ("EMAIL", {"addresses": False}, ("addresses",)),
    "generic_webhook": ("WEBHOOK", {"url": True, "username": True, "password": True}, ("url",)),
    "slack": ("SLACK", {"url": True, "oauth_token": True, "channel_id": True}, ("url",)),
    "microsoft_teams": (
        "MICROSOFT_TEAMS",
        {"url": True, "channel_url": True, "app_id": True, "auth_secret": True, "tenant_id": True},
        ("url",),
    ),
    "pagerduty": ("PAGERDUTY", {"integration_key": True}, ("integration_key",)),
}
TYPE_TO_KIND = {v[0]: k for k, v in KINDS.items()}
# The CLI's --type words.
CLI_TYPES = {
    "email": "email",
    "webhook": "generic_webhook",
    "slack": "slack",
    "teams": "microsoft_teams",
    "pagerduty": "pagerduty",
}


def validate_config(config: Any, *, path: str = "config") -> tuple[str, dict[str, Any]]:
    """(destination_type, clean config) of a create/update body's config. Raises: SpecError."""
    if not isinstance(config, dict):
        raise _invalid(
            [SpecIssue(path, "must be an object wrapping exactly one of " + ", ".join(KINDS))]
        )
    present = [k for k, v in config.items() if v is not None]
    unknown = [k for k in present if k not in KINDS]
    if unknown:
        raise _invalid(
            [
                SpecIssue(
                    f"{path}.{unknown[0]}",
                    "unknown destination kind; use one of " + ", ".join(KINDS),
                )
            ]
        )
    if len(present) != 1:
        raise _invalid(
            [SpecIssue(path, f"must wrap exactly one of {', '.join(KINDS)} (got {len(present)})")]
        )
    kind = present[0]
    dtype, fields, required = KINDS[kind]
    body = config[kind]
    where = f"{path}.{kind}"
    if not isinstance(body, dict):
        raise _invalid([SpecIssue(where, "must be an object")])
    issues = []
    clean: dict[str, Any] = {}
    for name, value in body.items():
        if name.endswith("_set"):
            continue  # output-only flags a client may echo back
        if name not in fields:
            issues.append(
                SpecIssue(f"{where}.{name}", f"unknown field; known: {', '.join(fields)}")
            )
            continue
        clean[name] = value
    for name in required:
        if clean.get(name) in (None, "", []):
            issues.append(SpecIssue(f"{where}.{name}", "is required"))
    if (
        "url" in clean
        and clean["url"]
        and urlsplit(str(clean["url"])).scheme not in ("http", "https")
    ):
        issues.append(SpecIssue(f"{where}.url", f"must be an http(s) URL, got {clean['url']!r}"))
    if kind == "email":
        addresses = clean.get("addresses")
        if not isinstance(addresses, list) or not all(
            isinstance(a, str) and "@" in a for a in addresses or []
        ):
            issues.append(SpecIssue(f"{where}.addresses", "must be a list of email addresses"))
    if issues:
        raise _invalid(issues)
    return dtype, {kind: clean}


def _secret_fields(config: dict[str, Any]) -> list[tuple[str, str]]:
    return [(kind, name) for kind in config for name, secret in KINDS[kind][1].items() if secret]


def seal(config: dict[str, Any]) -> dict[str, Any]:
    """A clean config with its secret fields encrypted for the store."""
    from headrace.runtime.secrets import ENCRYPTED_PREFIX, encrypt

    out = {kind: dict(body) for kind, body in config.items()}
    for kind, name in _secret_fields(out):
        value = out[kind].get(name)
        if isinstance(value, str) and value and not value.startswith(ENCRYPTED_PREFIX.decode()):
            out[kind][name] = encrypt(value.encode()).decode()
    return out


def unseal(config: dict[str, Any]) -> dict[str, Any]:
    """A stored config with its secret fields in clear. Raises: SecretError (no/other key)."""
    from headrace.runtime.secrets import ENCRYPTED_PREFIX, decrypt

    out = {kind: dict(body) for kind, body in config.items()}
    for kind, name in _secret_fields(out):
        value = out[kind].get(name)
        if isinstance(value, str) and value.startswith(ENCRYPTED_PREFIX.decode()):
            out[kind][name] = decrypt(value.encode()).decode()
    return out


def to_api(dest: outbox.Destination, *, with_config: bool) -> dict[str, Any]:
    """The NotificationDestination object; secrets become `<field>_set` flags."""
    out: dict[str, Any] = {
        "id": dest.destination_id,
        "display_name": dest.display_name,
        "destination_type": dest.destination_type,
    }
    if with_config:
        kind = TYPE_TO_KIND[dest.destination_type]
        shown: dict[str, Any] = {}
        for name, value in dest.config[kind].items():
            if KINDS[kind][1].get(name):
                shown[f"{name}_set"] = bool(value)
            else:
                shown[name] = value
        out["config"] = {kind: shown}
    return out


def create(
    store: Store, *, display_name: str | None, config: Any, who: str | None, admin: bool, now: int
) -> outbox.Destination:
    """Validate and store a destination (admins only). Raises: SpecError, PermissionDenied."""
    _require_admin(admin, who)
    dtype, clean = validate_config(config)
    name = display_name if display_name else f"{dtype.lower()} destination"
    if not isinstance(name, str):
        raise _invalid([SpecIssue("display_name", "must be a string")])
    destination_id = str(uuid.uuid4())
    with store.begin() as conn:
        outbox.insert_destination(
            conn,
            destination_id=destination_id,
            display_name=name,
            destination_type=dtype,
            config=seal(clean),
            created_by=who,
            created_time=now,
        )
        return outbox.get_destination(conn, destination_id)


def update(
    store: Store, destination_id: str, *, display_name: Any, config: Any, who: str, admin: bool
) -> outbox.Destination:
    """Change a destination's name and/or config; its type cannot change (as on Databricks).

    Secret fields left out of `config` keep their stored values. Raises: SpecError,
    PermissionDenied, NotFound.
    """
    _require_admin(admin, who)
    if display_name is None and config is None:
        raise _invalid([SpecIssue("display_name", "give display_name or config (or both)")])
    with store.begin() as conn:
        current = outbox.get_destination(conn, destination_id)
        values: dict[str, Any] = {}
        if display_name is not None:
            if not isinstance(display_name, str) or not display_name:
                raise _invalid([SpecIssue("display_name", "must be a non-empty string")])
            values["display_name"] = display_name
        if config is not None:
            kind = TYPE_TO_KIND[current.destination_type]
            if isinstance(config, dict) and isinstance(config.get(kind), dict):
                merged = {
                    **_in_clear(current.config)[kind],
                    **{k: v for k, v in config[kind].items() if v is not None},
                }
                config = {kind: merged}
            dtype, clean = validate_config(config)
            if dtype != current.destination_type:
                raise _invalid(
                    [
                        SpecIssue(
                            "config", f"the type cannot change (it is {current.destination_type})"
                        )
                    ]
                )
            values["config"] = seal(clean)
        outbox.update_destination(conn, destination_id, **values)
        return outbox.get_destination(conn, destination_id)


def _in_clear(config: dict[str, Any]) -> dict[str, Any]:
    from headrace.runtime.secrets import SecretError

    try:
        return unseal(config)
    except SecretError as exc:
        raise _invalid([SpecIssue("config", f"the stored secrets cannot be read: {exc}")]) from None


def delete(store: Store, destination_id: str, *, who: str, admin: bool) -> None:
    """Remove a destination (admins only). Raises: PermissionDenied, NotFound."""
    _require_admin(admin, who)
    with store.begin() as conn:
        outbox.delete_destination(conn, destination_id)


def _require_admin(admin: bool, who: str | None) -> None:
    if not admin:
        raise PermissionDenied(
            f"User {who} is not an admin; only admins manage notification destinations."
        )


def _invalid(issues: list[SpecIssue]) -> SpecError:
    return SpecError(issues, what="notification destination")
