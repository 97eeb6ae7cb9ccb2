"""Commands of issue 16: `plan`, `jobs backfill ...`, `runs replay`, `db copy`.

Kept out of `cli/main.py` (which many hands edit); `main` calls `register` once. Only typer is
imported here: each command imports what it needs when it runs.
"""

# No `from __future__ import annotations`: typer reads the options named in `register`.
from typing import Annotated

import typer


def register(
    app: typer.Typer, *, jobs_app: typer.Typer, runs_app: typer.Typer, db_app: typer.Typer
) -> None:
    """Add this module's commands to the CLI's apps."""
    from headrace.cli.options import DbOption, JsonOption, ParamOption
    from headrace.cli.options import parse_params as _parse_params

    @app.command("plan")
    def plan(
        target: Annotated[str, typer.Argument(help="Job spec file, or a stored job's id or name.")],
        param: ParamOption = None,
        job: Annotated[
            str | None, typer.Option("--job", help="Which job, when the file holds several.")
        ] = None,
        as_json: JsonOption = False,
        db: DbOption = None,
    ) -> None:
        """Show what a run would do (layers, parameters, environments, queue); starts nothing."""
        from headrace.cli.plan_command import plan as make_plan
        from headrace.cli.plan_command import print_plan

        data = make_plan(target, params=_parse_params(param or []), job_name=job, db=db)
        print_plan(data, as_json=as_json)

    @db_app.command("copy")
    def db_copy(
        to: Annotated[
            str,
            typer.Option("--to", help="Target: a new SQLite file or an empty database URL."),
        ],
        as_json: Annotated[bool, typer.Option("--json", help="Print row counts as JSON.")] = False,
        quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
        db: DbOption = None,
    ) -> None:
        """Copy the whole store (ids, history) into an empty database; the store must be idle."""
        from headrace.cli.copy_command import copy

        copy(db, to, as_json=as_json, quiet=quiet)

    @jobs_app.command("backfill")
    def jobs_backfill(
        job: Annotated[str, typer.Argument(help="A stored job's id or name.")],
        start: Annotated[
            str, typer.Option("--from", help="First logical date (ISO date or date-time, UTC).")
        ],
        end: Annotated[str, typer.Option("--to", help="Last logical date (included).")],
        every: Annotated[
            str | None,
            typer.Option(
                "--every", help="Interval: 1d, 6h, 30m, 1w (default: the job's schedule)."
            ),
        ] = None,
        max_concurrent: Annotated[
            int, typer.Option("--max-concurrent", min=1, help="Runs at once (default 1).")
        ] = 1,
        reverse: Annotated[bool, typer.Option("--reverse", help="Newest date first.")] = False,
        param: ParamOption = None,
        rerun: Annotated[
            bool, typer.Option("--rerun", help="Run dates that already succeeded again.")
        ] = False,
        detach: Annotated[
            bool, typer.Option("--detach", help="Only record it (a server runs it).")
        ] = False,
        as_json: JsonOption = False,
        db: DbOption = None,
    ) -> None:
        """One run per logical date (trigger BACKFILL), a few at a time; exit 1 if any failed."""
        from headrace.cli.backfill_commands import backfill

        code = backfill(
            job,
            start=start,
            end=end,
            every=every,
            max_concurrent=max_concurrent,
            reverse=reverse,
            params=_parse_params(param or []),
            rerun=rerun,
            detach=detach,
            as_json=as_json,
            db=db,
        )
        raise typer.Exit(code)

    backfills_app = typer.Typer(help="Backfills: progress and cancellation.", no_args_is_help=True)
    app.add_typer(backfills_app, name="backfills")

    @backfills_app.command("list")
    def backfills_list(
        job: Annotated[
            str | None, typer.Option("--job", help="Only this job (id or name).")
        ] = None,
        as_json: JsonOption = False,
        db: DbOption = None,
    ) -> None:
        """List backfills, newest first, with their progress."""
        from headrace.cli.backfill_commands import list_backfills

        list_backfills(db, job, as_json=as_json)

    @backfills_app.command("get")
    def backfills_get(
        backfill_id: Annotated[int, typer.Argument(help="Backfill id.")],
        as_json: JsonOption = False,
        db: DbOption = None,
    ) -> None:
        """Show a backfill: each logical date with its state and run."""
        from headrace.cli.backfill_commands import get_backfill

        get_backfill(db, backfill_id, as_json=as_json)

    @backfills_app.command("cancel")
    def backfills_cancel(
        backfill_id: Annotated[int, typer.Argument(help="Backfill id.")],
        db: DbOption = None,
    ) -> None:
        """Cancel a backfill as a whole: no new dates start, its active runs are canceled."""
        from headrace.cli.backfill_commands import cancel

        cancel(db, backfill_id)

    @runs_app.command("replay")
    def runs_replay(
        run_id: Annotated[int, typer.Argument(help="Run id.")],
        task: Annotated[str, typer.Argument(help="Task key (KEY[i] for a for_each iteration).")],
        attempt: Annotated[
            int | None, typer.Option("--attempt", min=0, help="Attempt number (default: last).")
        ] = None,
        pdb: Annotated[bool, typer.Option("--pdb", help="Run a Python task under pdb.")] = False,
        here: Annotated[
            bool, typer.Option("--here", help="Run in the current directory, not the task's.")
        ] = False,
        db: DbOption = None,
    ) -> None:
        """Re-execute one task's recorded attempt in the foreground; the run is not touched."""
        from headrace.cli.replay_command import replay

        code = replay(db, run_id, task, attempt=attempt, pdb=pdb, here=here)
        raise typer.Exit(code)
