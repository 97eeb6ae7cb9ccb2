"""`headrace pipelines create | list | get | update | delete`: pipelines without a server."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer

pipelines_app = typer.Typer(
    help="Pipelines (Spark Declarative Pipelines): definitions and updates.", no_args_is_help=True
)


def _store() -> Any:
    """The store (HEADRACE_DB, else the data directory's), old JSON pipelines moved in."""
    from headrace.engine.pipelines import open_pipelines

    return open_pipelines()


def _home() -> Path:
    from headrace.config import default_home

    return default_home()


def _load(path: Path) -> dict[str, Any]:
    """Pipeline settings from a YAML/JSON file; relative library paths from its folder."""
    import yaml

    from headrace.errors import SpecError, SpecIssue
    from headrace.spec.bounds import load_yaml

    try:
        data = load_yaml(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise SpecError([SpecIssue(str(path), str(exc))]) from None
    if not isinstance(data, dict):
        raise SpecError([SpecIssue(str(path), "expected a mapping of pipeline settings")])
    base = path.resolve().parent
    for library in data.get("libraries") or []:
        for kind, field in (("glob", "include"), ("file", "path"), ("notebook", "path")):
            entry = library.get(kind) if isinstance(library, dict) else None
            value = entry.get(field) if isinstance(entry, dict) else None
            if isinstance(entry, dict) and isinstance(value, str) and not os.path.isabs(value):
                entry[field] = os.path.normpath(base / value)
    return data


@pipelines_app.command("create")
def create(
    settings_file: Annotated[Path, typer.Argument(help="pipeline settings (YAML/JSON)")],
) -> None:
    """Store a pipeline; prints its id."""
    from headrace.engine import pipelines

    print(pipelines.create_pipeline(_store(), _load(settings_file)))


@pipelines_app.command("list")
def list_all() -> None:
    """Every pipeline (JSON)."""
    from headrace.engine import pipelines

    print(json.dumps({"statuses": pipelines.list_pipelines(_store())}, indent=2))


@pipelines_app.command("get")
def get(pipeline_id: str) -> None:
    """One pipeline with its latest updates (JSON)."""
    from headrace.engine import pipelines

    print(json.dumps(pipelines.get_pipeline(_store(), pipeline_id), indent=2))


@pipelines_app.command("delete")
def delete(pipeline_id: str) -> None:
    """Remove a pipeline (its datasets stay)."""
    from headrace.engine import pipelines

    pipelines.delete_pipeline(_store(), pipeline_id, _home())


@pipelines_app.command("update")
def update(
    pipeline_id: str,
    full_refresh: Annotated[bool, typer.Option("--full-refresh")] = False,
) -> None:
    """Run an update here (its output here); exit code 1 if it fails."""
    from headrace.engine import pipelines

    _update, code = pipelines.run_update_here(
        _store(), _home(), pipeline_id, full_refresh=full_refresh
    )
    raise typer.Exit(code)
