"""`headrace runs ...` and `headrace jobs ...`: inspect, follow and repair runs; stored jobs
and their versions. Each command imports what it needs when it runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from headrace.cli.boundary import run_exit_code
from headrace.cli.options import DbOption, JsonOption, open_db, parse_params

runs_app = typer.Typer(help="Inspect, follow and repair runs.", no_args_is_help=True)
jobs_app = typer.Typer(help="Stored jobs and their versions.", no_args_is_help=True)


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

    list_runs(*open_db(db), job_id=job_id, limit=limit, active_only=active_only, as_json=as_json)


@runs_app.command("get")
def runs_get(
    run_id: Annotated[int, typer.Argument(help="Run id.")],
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Show one run with its tasks."""
    from headrace.cli.runs_commands import get_run

    get_run(*open_db(db), run_id, as_json=as_json)


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

    print_logs(*open_db(db), run_id, task_key, attempt)


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

    export(*open_db(db), run_id, task_key, attempt=attempt, html=html, output=output)


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
        params=parse_params(param or []),
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

    list_jobs(*open_db(db), as_json=as_json)


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

    job_history(*open_db(db), job_id, diff=diff, as_json=as_json)
