"""Checks of the task types that run another tool (dbt, spark-submit, pipelines), whose
settings the models keep loose: required fields, their types, and what cannot run."""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from typing import Any

_SOURCES = ("WORKSPACE", "GIT")


def dbt_task_problems(settings: Any) -> Iterator[tuple[str, str]]:
    """(field suffix, reason) for each problem in a `dbt_task`."""
    if not isinstance(settings, dict):
        yield "", "must be a mapping"
        return
    commands = settings.get("commands")
    if not isinstance(commands, list) or not commands:
        yield ".commands", "set a non-empty list of dbt commands, e.g. ['dbt deps', 'dbt run']"
    else:
        for i, command in enumerate(commands):
            reason = _dbt_command_error(command)
            if reason is not None:
                yield f".commands[{i}]", reason
    for name in ("project_directory", "profiles_directory", "warehouse_id", "catalog", "schema"):
        value = settings.get(name)
        if value is not None and not isinstance(value, str):
            yield f".{name}", f"must be a string (got {type(value).__name__})"
    source = settings.get("source")
    if source is not None and source not in _SOURCES:
        yield ".source", f"must be one of: {', '.join(_SOURCES)} (got {source!r})"
    if settings.get("catalog") is not None and settings.get("warehouse_id") is None:
        # Databricks' own rule: catalog and schema name places in the warehouse's profile.
        yield ".catalog", "can only be set together with warehouse_id"


def _dbt_command_error(command: Any) -> str | None:
    if not isinstance(command, str):
        return f"must be a string (got {type(command).__name__})"
    try:
        words = shlex.split(command)
    except ValueError as exc:
        return f"cannot be split into words: {exc}"
    if len(words) < 2 or words[0] != "dbt":
        return f"must start with 'dbt' and name a dbt command, e.g. 'dbt run' (got {command!r})"
    return None


def pipeline_task_problems(settings: Any) -> Iterator[tuple[str, str]]:
    """(field suffix, reason) for each problem in a `pipeline_task`."""
    if not isinstance(settings, dict):
        yield "", "must be a mapping"
        return
    pipeline_id = settings.get("pipeline_id")
    if not isinstance(pipeline_id, str) or not pipeline_id:
        yield ".pipeline_id", "field required (the id of a pipeline: pipelines/create)"
    if settings.get("full_refresh") is not None and not isinstance(settings["full_refresh"], bool):
        yield ".full_refresh", "must be a boolean (true or false)"
