"""`headrace destinations create | list | delete` and `headrace notifications list`.

They work on the store directly, as whoever may open it (an admin, like `tokens`).
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Any

from headrace.config import Settings
from headrace.engine.coordinator import now_ms
from headrace.errors import SpecError, SpecIssue
from headrace.notify import destinations as service
from headrace.store import notifications as outbox
from headrace.store.db import Store


def destination_config(
    kind: str,
    *,
    url: str | None,
    addresses: list[str],
    username: str | None,
    password: str | None,
    integration_key: str | None,
) -> dict[str, Any]:
    """The API `config` object for the CLI's flags. Raises: SpecError."""
    if kind not in service.CLI_TYPES:
        known = ", ".join(service.CLI_TYPES)
        raise SpecError([SpecIssue("--type", f"must be one of {known}, got {kind!r}")])
    key = service.CLI_TYPES[kind]
    given = {
        "--url": url,
        "--address": addresses or None,
        "--username": username,
        "--password": password,
        "--integration-key": integration_key,
    }
    allowed = {
        "email": {"--address"},
        "generic_webhook": {"--url", "--username", "--password"},
        "slack": {"--url"},
        "microsoft_teams": {"--url"},
        "pagerduty": {"--integration-key"},
    }[key]
    extra = [flag for flag, value in given.items() if value is not None and flag not in allowed]
    if extra:
        raise SpecError([SpecIssue(extra[0], f"does not apply to --type {kind}")])
    body: dict[str, Any] = {
        "email": {"addresses": addresses},
        "generic_webhook": {"url": url, "username": username, "password": password},
        "slack": {"url": url},
        "microsoft_teams": {"url": url},
        "pagerduty": {"integration_key": integration_key},
    }[key]
    config = {key: {k: v for k, v in body.items() if v is not None}}
    try:
        service.validate_config(config)
    except SpecError as exc:  # name the CLI flag, not the API field
        flags = {"url": "--url", "addresses": "--address", "integration_key": "--integration-key"}
        issues = [
            SpecIssue(flags.get(i.path.rsplit(".", 1)[-1], "--type"), i.message) for i in exc.issues
        ]
        raise SpecError(issues) from None
    return config


def create_destination(
    settings: Settings, store: Store, *, name: str | None, config: dict[str, Any], as_json: bool
) -> None:
    dest = service.create(
        store, display_name=name, config=config, who="cli", admin=True, now=now_ms()
    )
    if as_json:
        sys.stdout.write(json.dumps(service.to_api(dest, with_config=True), indent=2) + "\n")
    else:
        print(dest.destination_id)


def list_destinations(settings: Settings, store: Store, *, as_json: bool) -> None:
    with store.read() as conn:
        found = outbox.list_destinations(conn)
    if as_json:
        rows = [service.to_api(d, with_config=True) for d in found]
        sys.stdout.write(json.dumps({"results": rows}, indent=2) + "\n")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table()
    table.add_column("id", no_wrap=True)
    for col in ("name", "type", "target"):
        table.add_column(col, overflow="fold")
    for d in found:
        table.add_row(d.destination_id, d.display_name, d.destination_type, _target(d))
    Console().print(table)


def _target(dest: outbox.Destination) -> str:
    """Where a destination sends, without secrets: addresses, or the URL's host."""
    from urllib.parse import urlsplit

    from headrace.runtime.secrets import SecretError

    kind = service.TYPE_TO_KIND[dest.destination_type]
    try:  # URLs are stored sealed: only their host is shown, and only with the key at hand
        config = service.unseal(dest.config)[kind]
    except SecretError:
        return "(sealed: the secrets key is not available here)"
    if kind == "email":
        return ", ".join(config["addresses"])
    if "url" in config:
        return urlsplit(config["url"]).netloc.rpartition("@")[2]
    return "PagerDuty Events API"


def delete_destination(settings: Settings, store: Store, destination_id: str) -> None:
    service.delete(store, destination_id, who="cli", admin=True)
    print(f"destination {destination_id} deleted", file=sys.stderr)


def list_notifications(
    settings: Settings, store: Store, *, run_id: int | None, limit: int, as_json: bool
) -> None:
    from headrace.notify.views import notification_to_api

    with store.read() as conn:
        rows = outbox.list_notifications(
            conn, run_ids=[run_id] if run_id is not None else None, limit=limit
        )
    if as_json:
        data = {"notifications": [notification_to_api(n) for n in rows]}
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table()
    for col in ("id", "run", "task", "event", "to", "state", "attempts", "when", "last error"):
        table.add_column(col, overflow="fold")
    for n in rows:
        when = n.delivered_time or n.created_time
        table.add_row(
            str(n.notification_id),
            str(n.run_id),
            n.task_key or "",
            n.event,
            f"{n.channel}:{n.target}",
            n.state,
            str(n.attempts),
            datetime.fromtimestamp(when / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S"),
            (n.last_error or "")[:200],
        )
    Console().print(table)
