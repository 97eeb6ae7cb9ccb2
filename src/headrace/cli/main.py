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
from headrace.cli.admin_app import (
    db_app,
    destinations_app,
    envs_app,
    notifications_app,
    tokens_app,
    workers_app,
)
from headrace.cli.boundary import Verbosity, leave, report
from headrace.cli.bundle_app import bundle_app
from headrace.cli.options import (
    DbOption,
    JsonOption,
    ParamOption,
    PoolOption,
    QuietOption,
    SlotsOption,
    VerboseOption,
)
from headrace.cli.run_options import RunArgs
from headrace.cli.runs_app import jobs_app, runs_app


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
app.add_typer(runs_app, name="runs")
app.add_typer(tokens_app, name="tokens")
app.add_typer(jobs_app, name="jobs")
app.add_typer(destinations_app, name="destinations")
app.add_typer(notifications_app, name="notifications")
app.add_typer(bundle_app, name="bundle")
app.add_typer(envs_app, name="envs")
app.add_typer(workers_app, name="workers")
app.add_typer(db_app, name="db")
app.add_typer(spark_commands.clusters_app, name="clusters")  # named Spark clusters (issue 12)
app.command("doctor")(spark_commands.doctor)
app.add_typer(pipeline_commands.pipelines_app, name="pipelines")  # issue 13
app.add_typer(samples_commands.samples_app, name="samples")  # synthetic sample data


def _fail(exc: BaseException) -> None:
    """Print the cause in one line (the traceback with --verbose) and exit with its code."""
    raise typer.Exit(report(exc))


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
