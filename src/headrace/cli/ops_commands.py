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
    from headrace.cli.main import DbOption, JsonOption, ParamOption, _fail, _parse_params

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
        try:
            from headrace.cli.plan_command import plan as make_plan
            from headrace.cli.plan_command import print_plan

            data = make_plan(target, params=_parse_params(param or []), job_name=job, db=db)
            print_plan(data, as_json=as_json)
        except Exception as exc:  # the one error boundary
            _fail(exc)

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
        try:
            from headrace.cli.copy_command import copy

            copy(db, to, as_json=as_json, quiet=quiet)
        except Exception as exc:  # the one error boundary
            _fail(exc)
