"""The `headrace` command line. One error boundary; heavy modules load inside commands."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from typer.core import TyperGroup

from headrace.cli import (
    db_commands,
    ops_commands,
    pipeline_commands,
    samples_commands,
    spark_commands,
)
from headrace.cli.boundary import Verbosity, leave, report, run_exit_code
from headrace.cli.run_options import RunArgs
from headrace.cli.run_options import parse_params as _parse_params


class _ErrorBoundary(TyperGroup):
    """The one error boundary: every command's error becomes one line and an exit code.

    The root group's `invoke` runs every subcommand (nested groups too), so commands need no
    try/except of their own; `_fail` maps HeadraceError subclasses to their `exit_code`.
    """

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as exc:
            # typer.Exit, a usage error, Ctrl-C's Abort: the CLI framework ends those itself
            # (typer vendors its click as typer._click; older typer versions use click).
            if type(exc).__module__.startswith(("typer", "click")):
                raise
            _fail(exc)


app = typer.Typer(
    name="headrace",
    cls=_ErrorBoundary,
    help="Headrace: run Databricks-style jobs (multi-task workflows) anywhere.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
runs_app = typer.Typer(help="Inspect, follow and repair runs.", no_args_is_help=True)
app.add_typer(runs_app, name="runs")
tokens_app = typer.Typer(help="API tokens (stored hashed; shown once).", no_args_is_help=True)
app.add_typer(tokens_app, name="tokens")
jobs_app = typer.Typer(help="Stored jobs and their versions.", no_args_is_help=True)
app.add_typer(jobs_app, name="jobs")
destinations_app = typer.Typer(
    help="Notification destinations (email, webhook, Slack, Teams, PagerDuty).",
    no_args_is_help=True,
)
app.add_typer(destinations_app, name="destinations")
notifications_app = typer.Typer(help="Notification deliveries and errors.", no_args_is_help=True)
app.add_typer(notifications_app, name="notifications")
bundle_app = typer.Typer(
    help="Databricks Asset Bundles (databricks.yml): validate, run, deploy, destroy, summary.",
    no_args_is_help=True,
)
app.add_typer(bundle_app, name="bundle")
envs_app = typer.Typer(
    help="Task environments (one per environments[].spec).", no_args_is_help=True
)
app.add_typer(envs_app, name="envs")
workers_app = typer.Typer(help="Worker processes sharing the store.", no_args_is_help=True)
app.add_typer(workers_app, name="workers")
db_app = typer.Typer(help="The store's schema (Alembic migrations).", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(spark_commands.clusters_app, name="clusters")  # named Spark clusters (issue 12)
app.command("doctor")(spark_commands.doctor)
app.add_typer(pipeline_commands.pipelines_app, name="pipelines")  # issue 13
app.add_typer(samples_commands.samples_app, name="samples")  # synthetic sample data

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db", help="SQLite file path or database URL (env HEADRACE_DB).", show_default=False
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the Jobs API Run object as JSON.")]
VerboseOption = Annotated[bool, typer.Option("--verbose", "-v", help="Show tracebacks on errors.")]
ParamOption = Annotated[
    list[str] | None,
    typer.Option("--param", "-p", help="Job parameter NAME=VALUE (repeatable)."),
]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")]
SlotsOption = Annotated[
    int | None, typer.Option("--slots", min=1, help="Parallel tasks (default: CPU count).")
]
PoolOption = Annotated[
    list[str] | None,
    typer.Option(
        "--pool",
        help="Also run tasks that ask for this worker_pool (repeatable; env HEADRACE_POOLS).",
    ),
]


def _fail(exc: BaseException) -> None:
    """Print the cause in one line (the traceback with --verbose) and exit with its code."""
    raise typer.Exit(report(exc))


def _open(db: str | None, slots: int | None = None) -> tuple[Any, Any]:
    from headrace.config import Settings
    from headrace.store.db import open_store

    settings = Settings.load(db=db, slots=slots)
    return settings, open_store(settings.db_url)


@app.callback()
def _root(verbose: VerboseOption = False) -> None:
    Verbosity.verbose = verbose


@app.command()
def validate(
    files: Annotated[list[Path], typer.Argument(help="Job spec files (YAML or JSON).")],
) -> None:
    """Check job specs and print every error with its field path (exit 0 valid, 2 invalid)."""
    from headrace.errors import SpecError
    from headrace.spec.loader import load_job_file

    failed = False
    for path in files:
        warnings: list[str] = []
        try:
            jobs = load_job_file(path, warnings=warnings)
        except SpecError as exc:
            failed = True
            print(str(exc), file=sys.stderr)
            continue
        finally:
            for warning in warnings:  # read-only/legacy fields of a jobs/get export
                print(f"warning: {path}: {warning}", file=sys.stderr)
        names = ", ".join(repr(j.name) for j in jobs)
        tasks = sum(len(j.tasks) for j in jobs)
        print(
            f"{path}: valid ({len(jobs)} job{'s' if len(jobs) != 1 else ''}: {names}; {tasks} tasks)"
        )
    if failed:
        raise typer.Exit(2)


@app.command()
def run(
    file: Annotated[Path, typer.Argument(help="Job spec file (YAML or JSON).")],
    param: ParamOption = None,
    job: Annotated[
        str | None, typer.Option("--job", help="Which job, when the file holds several.")
    ] = None,
    as_json: JsonOption = False,
    quiet: QuietOption = False,
    slots: SlotsOption = None,
    db: DbOption = None,
) -> None:
    """Run a job now, locally, and wait for it; the exit code is the run's result."""
    # A plain `headrace run` never gets here: cli.entry parses it without Typer (issue 18), with
    # cli/run_options.RUN_OPTIONS, which must list these options too (test_run_options checks).
    from headrace.cli.run_command import run_file

    args = RunArgs(file, param or [], job, as_json, quiet, slots, db, Verbosity.verbose)
    raise typer.Exit(run_file(args))


@runs_app.command("list")
def runs_list(
    job_id: Annotated[int | None, typer.Option("--job-id", help="Only runs of this job.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000)] = 25,
    active_only: Annotated[bool, typer.Option("--active-only")] = False,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """List runs, newest first."""
    from headrace.cli.runs_commands import list_runs

    list_runs(*_open(db), job_id=job_id, limit=limit, active_only=active_only, as_json=as_json)


@runs_app.command("get")
def runs_get(
    run_id: Annotated[int, typer.Argument(help="Run id.")],
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Show one run with its tasks."""
    from headrace.cli.runs_commands import get_run

    get_run(*_open(db), run_id, as_json=as_json)


@runs_app.command("logs")
def runs_logs(
    run_id: Annotated[int, typer.Argument(help="Run id.")],
    task_key: Annotated[str, typer.Argument(help="Task key (KEY[i] for a for_each iteration).")],
    attempt: Annotated[
        int | None, typer.Option("--attempt", min=0, help="Attempt number (default: last).")
    ] = None,
    db: DbOption = None,
) -> None:
    """Print a task's log (its last attempt unless --attempt)."""
    from headrace.cli.runs_commands import print_logs

    print_logs(*_open(db), run_id, task_key, attempt)


@runs_app.command("export")
def runs_export(
    run_id: Annotated[int, typer.Argument(help="Run id.")],
    task_key: Annotated[str, typer.Argument(help="A notebook task's key (KEY[i] for for_each).")],
    html: Annotated[bool, typer.Option("--html", help="Render as HTML (nbconvert).")] = False,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to FILE instead of stdout.")
    ] = None,
    attempt: Annotated[
        int | None, typer.Option("--attempt", min=0, help="Attempt number (default: last).")
    ] = None,
    db: DbOption = None,
) -> None:
    """Export a notebook task's executed notebook (.ipynb, or HTML with --html)."""
    from headrace.cli.export_command import export

    export(*_open(db), run_id, task_key, attempt=attempt, html=html, output=output)


@runs_app.command("repair")
def runs_repair(
    run_id: Annotated[int, typer.Argument(help="Run id.")],
    task: Annotated[
        list[str] | None, typer.Option("--task", "-t", help="Task to rerun (repeatable).")
    ] = None,
    all_failed: Annotated[
        bool, typer.Option("--all-failed", help="Rerun every task that did not succeed.")
    ] = False,
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="Override a job parameter.")
    ] = None,
    as_json: JsonOption = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
    slots: Annotated[int | None, typer.Option("--slots", min=1)] = None,
    db: DbOption = None,
) -> None:
    """Rerun chosen (or all failed) tasks and their dependents inside the same run."""
    from headrace.cli.run_command import repair

    result, interrupted = repair(
        run_id,
        tasks=task or [],
        all_failed=all_failed,
        params=_parse_params(param or []),
        as_json=as_json,
        quiet=quiet,
        slots=slots,
        db=db,
    )
    raise typer.Exit(run_exit_code(result, interrupted))


@jobs_app.command("list")
def jobs_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print the jobs as JSON.")] = False,
    db: DbOption = None,
) -> None:
    """List stored jobs: id, name, creator, latest version."""
    from headrace.cli.jobs_commands import list_jobs

    list_jobs(*_open(db), as_json=as_json)


@jobs_app.command("history")
def jobs_history(
    job_id: Annotated[int, typer.Argument(help="Job id.")],
    diff: Annotated[
        tuple[int, int] | None,
        typer.Option(
            "--diff", metavar="A B", help="Print a unified diff of versions A and B (as YAML)."
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print every version with its settings as JSON.")
    ] = False,
    db: DbOption = None,
) -> None:
    """List a job's versions (one per create, update and reset), or diff two of them."""
    from headrace.cli.jobs_commands import job_history

    job_history(*_open(db), job_id, diff=diff, as_json=as_json)


@app.command()
def server(
    host: Annotated[
        str, typer.Option("--host", help="Address to bind (default: loopback only).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535)] = 8765,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=0,
            help="Parallel tasks (default: CPU count; 0: none, `headrace worker`s run them).",
        ),
    ] = None,
    grace: Annotated[
        float,
        typer.Option(
            "--grace-seconds", min=0, help="On SIGTERM, how long running tasks may finish."
        ),
    ] = 30.0,
    smtp_url: Annotated[
        str | None,
        typer.Option(
            "--smtp-url",
            help="Mail server for notifications, smtp://user:pass@host:587?starttls=true&from=a@b"
            " (env HEADRACE_SMTP_URL).",
            show_default=False,
        ),
    ] = None,
    public_url: Annotated[
        str | None,
        typer.Option(
            "--public-url",
            help="Base URL of run-page links in notifications (env HEADRACE_PUBLIC_URL;"
            " default http://HOST:PORT).",
            show_default=False,
        ),
    ] = None,
    tls_cert: Annotated[
        Path | None,
        typer.Option("--tls-cert", help="Serve https with this PEM certificate (chain)."),
    ] = None,
    tls_key: Annotated[
        Path | None, typer.Option("--tls-key", help="The private key of --tls-cert (PEM).")
    ] = None,
    tls_self_signed: Annotated[
        bool,
        typer.Option(
            "--tls-self-signed",
            help="Serve https with a self-signed certificate kept in HEADRACE_HOME/tls (dev only).",
        ),
    ] = False,
    pool: PoolOption = None,
    db: DbOption = None,
) -> None:
    """Serve the Jobs API (and run jobs, schedules and triggers) until SIGTERM."""
    import dataclasses

    from headrace.api.server import ServerOptions, serve
    from headrace.config import Settings
    from headrace.notify.settings import NotifySettings

    settings = Settings.load(db=db, slots=workers or None, pools=pool)
    if workers == 0:
        settings = dataclasses.replace(settings, slots=0)
    from headrace.cli.tls_options import tls_files

    tls = tls_files(settings.home, host, tls_cert, tls_key, tls_self_signed)
    scheme = "https" if tls is not None else "http"
    notify = NotifySettings.load(
        smtp_url=smtp_url, public_url=public_url, default_url=f"{scheme}://{host}:{port}"
    )
    from sqlalchemy.engine import make_url

    store_url = make_url(settings.db_url).render_as_string(hide_password=True)
    print(f"headrace server on {scheme}://{host}:{port} (store: {store_url})", file=sys.stderr)
    options = ServerOptions(host=host, port=port, grace_seconds=grace, notify=notify, tls=tls)
    serve(settings, options)


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

    print(create_token(*_open(db), user=user, admin=admin, lifetime=lifetime, comment=comment))


@tokens_app.command("list")
def tokens_list(as_json: JsonOption = False, db: DbOption = None) -> None:
    """List tokens (never their secrets)."""
    from headrace.cli.tokens_commands import list_tokens

    list_tokens(*_open(db), as_json=as_json)


@tokens_app.command("revoke")
def tokens_revoke(
    token_id: Annotated[int, typer.Argument(help="Token id (from tokens list).")],
    db: DbOption = None,
) -> None:
    """Revoke a token: every later call with it gets 401."""
    from headrace.cli.tokens_commands import revoke_token

    revoke_token(*_open(db), token_id)


TargetOption = Annotated[
    str | None, typer.Option("--target", "-t", help="Bundle target (default: the default one).")
]
VarOption = Annotated[
    list[str] | None,
    typer.Option("--var", help="Bundle variable NAME=VALUE (repeatable; env BUNDLE_VAR_<name>)."),
]
BundlePathOption = Annotated[
    Path | None,
    typer.Option("--path", help="databricks.yml or its folder (default: found from here up)."),
]


@bundle_app.command("validate")
def bundle_validate(
    target: TargetOption = None,
    var: VarOption = None,
    path: BundlePathOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the resolved bundle.")] = False,
) -> None:
    """Check the bundle for a target; print every error with its file and line (exit 2)."""
    from headrace.cli.bundle_commands import parse_vars, validate_bundle

    validate_bundle(path, target, parse_vars(var or []), as_json)


ServerOption = Annotated[
    str | None,
    typer.Option("--server", help="Server URL (env DATABRICKS_HOST).", show_default=False),
]
TokenOption = Annotated[
    str | None,
    typer.Option("--token", help="API token (env DATABRICKS_TOKEN).", show_default=False),
]
ForceLockOption = Annotated[
    bool, typer.Option("--force-lock", help="Take the deployment lock even if it is held.")
]


@bundle_app.command("deploy")
def bundle_deploy(
    target: TargetOption = None,
    var: VarOption = None,
    path: BundlePathOption = None,
    server: ServerOption = None,
    token: TokenOption = None,
    auto_approve: Annotated[
        bool, typer.Option("--auto-approve", help="Delete jobs the bundle dropped, no question.")
    ] = False,
    force_lock: ForceLockOption = False,
) -> None:
    """Create or update the target's jobs on a server (idempotent), uploading the files."""
    from headrace.cli.bundle_commands import deploy, parse_vars

    deploy(
        path,
        target=target,
        variables=parse_vars(var or []),
        server=server,
        token=token,
        auto_approve=auto_approve,
        force_lock=force_lock,
    )


@bundle_app.command("destroy")
def bundle_destroy(
    target: TargetOption = None,
    var: VarOption = None,
    path: BundlePathOption = None,
    server: ServerOption = None,
    token: TokenOption = None,
    auto_approve: Annotated[
        bool, typer.Option("--auto-approve", help="Destroy without asking.")
    ] = False,
    force_lock: ForceLockOption = False,
) -> None:
    """Delete a deployed target's jobs and workspace folder from a server (asks first)."""
    from headrace.cli.bundle_commands import destroy, parse_vars

    destroy(
        path,
        target=target,
        variables=parse_vars(var or []),
        server=server,
        token=token,
        auto_approve=auto_approve,
        force_lock=force_lock,
    )


@bundle_app.command("summary")
def bundle_summary(
    target: TargetOption = None,
    var: VarOption = None,
    path: BundlePathOption = None,
    server: ServerOption = None,
    token: TokenOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print it as JSON.")] = False,
) -> None:
    """The target's resources; with --server, their deployed ids and URLs."""
    from headrace.cli.bundle_commands import parse_vars, summary

    summary(
        path,
        target=target,
        variables=parse_vars(var or []),
        server=server,
        token=token,
        as_json=as_json,
    )


@bundle_app.command("run")
def bundle_run(
    key: Annotated[str, typer.Argument(metavar="JOB_KEY", help="The job's key in resources.jobs.")],
    target: TargetOption = None,
    var: VarOption = None,
    path: BundlePathOption = None,
    param: ParamOption = None,
    server: Annotated[
        str | None,
        typer.Option("--server", help="Run the deployed job on this server instead of here."),
    ] = None,
    token: TokenOption = None,
    as_json: JsonOption = False,
    quiet: QuietOption = False,
    slots: SlotsOption = None,
    db: DbOption = None,
) -> None:
    """Run a bundle's job now (locally, or deployed on --server) and wait; exit code = result."""
    from headrace.cli.bundle_commands import parse_vars, run_bundle_job, run_on_server

    interrupted = False
    if server is not None:
        result = run_on_server(
            path,
            key,
            target=target,
            variables=parse_vars(var or []),
            params=_parse_params(param or []),
            server=server,
            token=token,
            as_json=as_json,
        )
    else:
        result, interrupted = run_bundle_job(
            path,
            key,
            target=target,
            variables=parse_vars(var or []),
            params=_parse_params(param or []),
            as_json=as_json,
            quiet=quiet,
            slots=slots,
            db=db,
        )
    raise typer.Exit(run_exit_code(result, interrupted))


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
    create_destination(*_open(db), name=name, config=config, as_json=as_json)


@destinations_app.command("list")
def destinations_list(as_json: JsonOption = False, db: DbOption = None) -> None:
    """List destinations (never their secrets)."""
    from headrace.cli.notify_commands import list_destinations

    list_destinations(*_open(db), as_json=as_json)


@destinations_app.command("delete")
def destinations_delete(
    destination_id: Annotated[str, typer.Argument(help="Destination id.")],
    db: DbOption = None,
) -> None:
    """Delete a destination."""
    from headrace.cli.notify_commands import delete_destination

    delete_destination(*_open(db), destination_id)


@notifications_app.command("list")
def notifications_list(
    run_id: Annotated[int | None, typer.Option("--run", help="Only this run's.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10000)] = 50,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Notifications, newest first: recipient, state, attempts and the last error."""
    from headrace.cli.notify_commands import list_notifications

    list_notifications(*_open(db), run_id=run_id, limit=limit, as_json=as_json)


@app.command("worker")
def worker(
    slots: SlotsOption = None,
    grace: Annotated[
        float,
        typer.Option(
            "--grace-seconds", min=0, help="On SIGTERM, how long running tasks may finish."
        ),
    ] = 30.0,
    pool: PoolOption = None,
    db: DbOption = None,
) -> None:
    """Run tasks for the servers sharing this store (PostgreSQL) until SIGTERM, then drain."""
    from headrace.cli.cluster_commands import run_worker

    run_worker(db, slots, grace, pool or [])


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


ops_commands.register(app, jobs_app=jobs_app, runs_app=runs_app, db_app=db_app)  # issue 16
db_commands.register(db_app)  # issue 11: db backup


def main() -> NoReturn:
    """Run the Typer app, then leave without interpreter teardown (`boundary.leave`).

    The console script starts in `cli.entry.main`, which handles a plain `headrace run` itself.
    """
    try:
        app()
        code: int = 0
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            code = exc.code or 0
        else:
            print(exc.code, file=sys.stderr)
            code = 1
    leave(code)
