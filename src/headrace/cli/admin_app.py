"""Commands that look after a Headrace installation: API tokens, notification destinations
and deliveries, task environments, workers, the store's schema. Each imports what it needs
when it runs."""

from __future__ import annotations

from typing import Annotated

import typer

from headrace.cli.options import DbOption, JsonOption, open_db

tokens_app = typer.Typer(help="API tokens (stored hashed; shown once).", no_args_is_help=True)
destinations_app = typer.Typer(
    help="Notification destinations (email, webhook, Slack, Teams, PagerDuty).",
    no_args_is_help=True,
)
notifications_app = typer.Typer(help="Notification deliveries and errors.", no_args_is_help=True)
envs_app = typer.Typer(
    help="Task environments (one per environments[].spec).", no_args_is_help=True
)
workers_app = typer.Typer(help="Worker processes sharing the store.", no_args_is_help=True)
db_app = typer.Typer(help="The store's schema (Alembic migrations).", no_args_is_help=True)


@tokens_app.command("create")
def tokens_create(
    user: Annotated[str, typer.Option("--user", help="Who the token acts for.")],
    admin: Annotated[bool, typer.Option("--admin", help="May see and manage everything.")] = False,
    lifetime: Annotated[
        str | None, typer.Option("--lifetime", help="e.g. 90d, 12h, 30m (default: no expiry).")
    ] = None,
    comment: Annotated[str | None, typer.Option("--comment")] = None,
    db: DbOption = None,
) -> None:
    """Create a token and print it once, alone on stdout."""
    from headrace.cli.tokens_commands import create_token

    print(create_token(*open_db(db), user=user, admin=admin, lifetime=lifetime, comment=comment))


@tokens_app.command("list")
def tokens_list(as_json: JsonOption = False, db: DbOption = None) -> None:
    """List tokens (never their secrets)."""
    from headrace.cli.tokens_commands import list_tokens

    list_tokens(*open_db(db), as_json=as_json)


@tokens_app.command("revoke")
def tokens_revoke(
    token_id: Annotated[int, typer.Argument(help="Token id (from tokens list).")],
    db: DbOption = None,
) -> None:
    """Revoke a token: every later call with it gets 401."""
    from headrace.cli.tokens_commands import revoke_token

    revoke_token(*open_db(db), token_id)


@envs_app.command("list")
def envs_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List built environments, least recently used first."""
    from headrace.cli.envs_commands import list_envs

    list_envs(as_json)


@envs_app.command("prune")
def envs_prune(
    unused_for: Annotated[
        str, typer.Option("--unused-for", help="Remove those unused this long (e.g. 7d, 0s).")
    ] = "7d",
) -> None:
    """Remove environments no task has used for a while; they are rebuilt when needed."""
    from headrace.cli.envs_commands import prune_envs

    prune_envs(unused_for)


@destinations_app.command("create")
def destinations_create(
    kind: Annotated[str, typer.Option("--type", help="email, webhook, slack, teams or pagerduty.")],
    name: Annotated[str | None, typer.Option("--name", help="Display name.")] = None,
    url: Annotated[
        str | None, typer.Option("--url", help="Webhook URL (webhook, slack, teams).")
    ] = None,
    address: Annotated[
        list[str] | None, typer.Option("--address", help="Email address (repeatable).")
    ] = None,
    username: Annotated[str | None, typer.Option("--username", help="Webhook basic auth.")] = None,
    password: Annotated[str | None, typer.Option("--password", help="Webhook basic auth.")] = None,
    integration_key: Annotated[
        str | None, typer.Option("--integration-key", help="PagerDuty Events v2 routing key.")
    ] = None,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Create a destination; prints its id (use it in webhook_notifications)."""
    from headrace.cli.notify_commands import create_destination, destination_config

    config = destination_config(
        kind,
        url=url,
        addresses=address or [],
        username=username,
        password=password,
        integration_key=integration_key,
    )
    create_destination(*open_db(db), name=name, config=config, as_json=as_json)


@destinations_app.command("list")
def destinations_list(as_json: JsonOption = False, db: DbOption = None) -> None:
    """List destinations (never their secrets)."""
    from headrace.cli.notify_commands import list_destinations

    list_destinations(*open_db(db), as_json=as_json)


@destinations_app.command("delete")
def destinations_delete(
    destination_id: Annotated[str, typer.Argument(help="Destination id.")],
    db: DbOption = None,
) -> None:
    """Delete a destination."""
    from headrace.cli.notify_commands import delete_destination

    delete_destination(*open_db(db), destination_id)


@notifications_app.command("list")
def notifications_list(
    run_id: Annotated[int | None, typer.Option("--run", help="Only this run's.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10000)] = 50,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Notifications, newest first: recipient, state, attempts and the last error."""
    from headrace.cli.notify_commands import list_notifications

    list_notifications(*open_db(db), run_id=run_id, limit=limit, as_json=as_json)


@workers_app.command("list")
def workers_list(
    include_stopped: Annotated[
        bool, typer.Option("--all", help="Also stopped and lost workers.")
    ] = False,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Live workers: host, slots, heartbeat and the tasks they run."""
    from headrace.cli.cluster_commands import list_workers

    list_workers(db, as_json=as_json, include_stopped=include_stopped)


@db_app.command("upgrade")
def db_upgrade(db: DbOption = None) -> None:
    """Apply the schema migrations (servers also do this on start, under a lock)."""
    from headrace.cli.cluster_commands import db_upgrade as upgrade

    upgrade(db)


@db_app.command("current")
def db_current(db: DbOption = None) -> None:
    """Print the schema revision (exit 1 if it needs an upgrade)."""
    from headrace.cli.cluster_commands import db_current as current

    code = current(db)
    raise typer.Exit(code)
