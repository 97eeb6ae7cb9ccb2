"""Options several commands share (`--db`, `--json`, `--param`, ...) and opening the store
they name. Only typer is imported here; the store loads when a command runs."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from headrace.cli.run_options import parse_params

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


def open_db(db: str | None, slots: int | None = None) -> tuple[Any, Any]:
    """(settings, store) of `--db` (else HEADRACE_DB, else the home's SQLite file)."""
    from headrace.config import Settings
    from headrace.store.db import open_store

    settings = Settings.load(db=db, slots=slots)
    return settings, open_store(settings.db_url)


__all__ = [
    "DbOption",
    "JsonOption",
    "ParamOption",
    "PoolOption",
    "QuietOption",
    "SlotsOption",
    "VerboseOption",
    "open_db",
    "parse_params",
]
