"""Dynamic value references (`{{job.run_id}}`, `{{tasks.a.values.n}}`): find, render, validate."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel

from headrace.errors import HeadraceError, SpecIssue
from headrace.spec._issues import did_you_mean, format_path
from headrace.spec.models import ForEachTask, JobSettings

# Identifiers are [A-Za-z0-9_]; anything else must be backtick-quoted (reference doc 6.9) or
# bracketed, `{{job.parameters.[my-param]}}` (also without the dot), as Databricks accepts.
_PART = r"(?:[A-Za-z0-9_]+|`[^`]+`|\[[^\]]+\])"
_REFERENCE = re.compile(r"\{\{\s*(" + _PART + r"(?:\." + _PART + r"|\[[^\]]+\])*)\s*\}\}")
_SPLIT = re.compile(_PART)

NAMESPACES = frozenset({"job", "task", "tasks", "input", "workspace", "backfill"})
LEGACY_NAMES = frozenset(
    {
        "job_id",
        "run_id",
        "parent_run_id",
        "start_date",
        "start_time",
        "task_retry_count",
        "task_key",
    }
)
TIME_ARGS = (
    "iso_weekday",
    "is_weekday",
    "iso_date",
    "iso_datetime",
    "year",
    "month",
    "day",
    "hour",
    "minute",
    "second",
    "timestamp_ms",
)
_JOB_KEYS = frozenset({"id", "name", "run_id", "repair_count"})
_TASK_KEYS = frozenset({"name", "run_id", "execution_count", "notebook_path"})
_TASKS_KEYS = frozenset(
    {"run_id", "result_state", "execution_count", "error_code", "notebook_path"}
)
_WORKSPACE_KEYS = frozenset({"id", "url"})
_BACKFILL_KEYS = frozenset({"iso_date", "iso_datetime"})
# Fields that are never substituted: keys, prose and addresses.
_NOT_SUBSTITUTED = frozenset({"task_key", "depends_on", "description", "email_notifications"})


class UnresolvedReference(HeadraceError):
    """A dynamic value reference could not be resolved."""


def _known_parts(match: re.Match[str]) -> tuple[str, ...] | None:
    """The unquoted parts of a matched reference when its namespace is known, else None."""
    parts = tuple(_unquote(p) for p in _SPLIT.findall(match.group(1)))
    return parts if parts[0] in NAMESPACES or parts[0] in LEGACY_NAMES else None


def _unquote(part: str) -> str:
    if part.startswith("[") and part.endswith("]"):
        return part[1:-1].strip()
    return part.strip("`")


def _matches(text: str) -> Iterator[tuple[re.Match[str], tuple[str, ...]]]:
    """Each well-formed reference in a known namespace, with its parts."""
    for match in _REFERENCE.finditer(text):
        parts = _known_parts(match)
        if parts is not None:
            yield match, parts


def find_references(text: str) -> list[tuple[str, ...]]:
    """The references in `text` that `render` would substitute, as tuples of parts."""
    if "{{" not in text:
        return []
    return [parts for _, parts in _matches(text)]


def single_reference(text: str) -> tuple[str, ...] | None:
    """The parts when `text` is exactly one reference (surrounding blanks allowed), else None."""
    match = _REFERENCE.fullmatch(text.strip())
    return None if match is None else _known_parts(match)


def render(text: str, resolve: Callable[[tuple[str, ...]], str]) -> str:
    """Replace each reference with `resolve(parts)`; malformed or unknown ones stay verbatim."""
    if "{{" not in text:
        return text

    def replace(match: re.Match[str]) -> str:
        parts = _known_parts(match)
        return match.group(0) if parts is None else resolve(parts)

    return _REFERENCE.sub(replace, text)


def time_fields(dt: datetime) -> dict[str, str]:
    """The `{{job.start_time.<arg>}}` values of a UTC datetime (naive means UTC)."""
    dt = dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
    epoch_ms = (dt - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)
    return {
        "iso_weekday": str(dt.isoweekday()),
        "is_weekday": "true" if dt.isoweekday() <= 5 else "false",
        "iso_date": dt.strftime("%Y-%m-%d"),
        "iso_datetime": dt.strftime("%Y-%m-%dT%H:%M:%S"),
        "year": str(dt.year),
        "month": str(dt.month),
        "day": str(dt.day),
        "hour": str(dt.hour),
        "minute": str(dt.minute),
        "second": str(dt.second),
        "timestamp_ms": str(epoch_ms),
    }


_UNKNOWN = "unknown reference"
_Found = tuple[str, str, bool]  # (path, text, inside a for_each nested task)


@dataclass(frozen=True)
class _Scope:
    """What a string may reference: the task it belongs to and what is upstream of it."""

    parameters: frozenset[str]
    task_keys: frozenset[str]
    is_upstream: Callable[[str, str], bool]  # (key, of)
    task_key: str | None = None  # None: a job parameter default
    in_for_each: bool = False


def validate_references(settings: JobSettings) -> list[SpecIssue]:
    """Every reference in task settings and parameter defaults that cannot resolve, with paths."""
    parameters = frozenset(p.name for p in settings.parameters)
    task_keys = frozenset(t.task_key for t in settings.tasks)
    parents: dict[str, set[str]] = {}
    for task in settings.tasks:
        parents.setdefault(task.task_key, set()).update(d.task_key for d in task.depends_on)

    def is_upstream(key: str, of: str) -> bool:
        # A targeted walk: most references name a direct parent, so this stops early.
        stack, seen = [of], {of}
        while stack:
            for parent in parents.get(stack.pop(), ()):
                if parent == key:
                    return True
                if parent not in seen:
                    seen.add(parent)
                    stack.append(parent)
        return False

    issues: list[SpecIssue] = []
    job_scope = _Scope(parameters, task_keys, is_upstream)
    for i, param in enumerate(settings.parameters):
        _check_text(param.default, f"parameters[{i}].default", job_scope, issues)
    for i, task in enumerate(settings.tasks):
        found: list[_Found] = []
        _strings(task, ("tasks", i), False, found)
        for path, text, nested in found:
            scope = _Scope(parameters, task_keys, is_upstream, task.task_key, nested)
            _check_text(text, path, scope, issues)
    return issues


def _check_text(text: str, path: str, scope: _Scope, issues: list[SpecIssue]) -> None:
    """Add an issue for each reference in `text` that cannot resolve in `scope`."""
    if "{{" not in text:
        return
    for match, parts in _matches(text):
        reason = _reason(parts, scope)
        if reason is None:
            continue
        ref = match.group(0)
        if reason.startswith(_UNKNOWN):
            message = f"{_UNKNOWN} {ref}{reason.removeprefix(_UNKNOWN)}"
        else:
            message = f"{ref}: {reason}"
        issues.append(SpecIssue(path, message))


def _unknown(word: str, candidates: Iterable[str]) -> str:
    """The reason for an unknown key, with a suggestion."""
    return _UNKNOWN + did_you_mean(word, candidates)


def _reason(parts: tuple[str, ...], scope: _Scope) -> str | None:
    """Why a reference cannot resolve in `scope`, or None when it can."""
    head, rest = parts[0], parts[1:]
    if head in LEGACY_NAMES:
        return None if not rest else _UNKNOWN
    if head == "job":
        return _job_reason(rest, scope)
    if head in ("task", "tasks", "input") and scope.task_key is None:
        return f"{head!r} references are not available in a job parameter default"
    if head == "task":
        return _key_reason(rest, _TASK_KEYS)
    if head == "tasks":
        return _tasks_reason(rest, scope)
    if head == "input":
        return None if scope.in_for_each else "only available in a for_each_task's nested task"
    return _key_reason(rest, _WORKSPACE_KEYS if head == "workspace" else _BACKFILL_KEYS)


def _key_reason(rest: tuple[str, ...], keys: frozenset[str]) -> str | None:
    """None when `rest` is one of `keys`, else the unknown-reference reason."""
    if len(rest) == 1 and rest[0] in keys:
        return None
    return _unknown(rest[0], keys) if rest else _UNKNOWN


def _job_reason(rest: tuple[str, ...], scope: _Scope) -> str | None:
    """Why a `{{job....}}` reference cannot resolve, or None."""
    if len(rest) == 1 and rest[0] in _JOB_KEYS:
        return None
    if len(rest) == 2 and rest[0] == "parameters":
        if rest[1] in scope.parameters:
            return None
        return f"no job parameter named '{rest[1]}'{did_you_mean(rest[1], scope.parameters)}"
    if rest[:1] == ("start_time",) or rest[:2] == ("trigger", "time"):
        arg = rest[-1] if len(rest) == (2 if rest[0] == "start_time" else 3) else ""
        if arg in TIME_ARGS:
            return None
        return f"unknown time field '{arg}'; use one of: {', '.join(TIME_ARGS)}"
    if rest in (("trigger", "type"), ("trigger", "file_arrival", "location")):
        return None
    if rest[:2] == ("trigger", "table_update") and _table_update_ok(rest[2:]):
        return None
    return (
        _unknown(rest[0], _JOB_KEYS | {"parameters", "start_time", "trigger"}) if rest else _UNKNOWN
    )


def _table_update_ok(rest: tuple[str, ...]) -> bool:
    """`updated_tables`, `<table>.version` or `<table>.commit_timestamp.<arg>`; the table
    name may be dotted (`main.sales.orders`) or bracketed (`[main.sales.orders]`)."""
    return table_update_field(rest) is not None


def table_update_field(rest: tuple[str, ...]) -> tuple[str, tuple[str, ...]] | None:
    """(table, field) of a `{{job.trigger.table_update....}}` reference's parts after
    `table_update`: ("", ("updated_tables",)), (table, ("version",)) or
    (table, ("commit_timestamp", arg)); None when malformed."""
    if rest == ("updated_tables",):
        return "", rest
    if len(rest) >= 2 and rest[-1] == "version":
        return ".".join(rest[:-1]), rest[-1:]
    if len(rest) >= 3 and rest[-2] == "commit_timestamp" and rest[-1] in TIME_ARGS:
        return ".".join(rest[:-2]), rest[-2:]
    return None


def _tasks_reason(rest: tuple[str, ...], scope: _Scope) -> str | None:
    """Why a `{{tasks.<key>....}}` reference cannot resolve, or None."""
    if len(rest) < 2:
        return _UNKNOWN
    key, field = rest[0], rest[1]
    if key not in scope.task_keys:
        return f"no task named '{key}'{did_you_mean(key, scope.task_keys)}"
    if len(rest) == 2 and field in _TASKS_KEYS:
        return None
    if (field == "values" and len(rest) == 3) or (field == "output" and len(rest) >= 3):
        if scope.task_key and scope.is_upstream(key, scope.task_key):
            return None
        return (
            f"task '{key}' is not upstream of '{scope.task_key}'; "
            f"add it to depends_on (directly or through another task) to use its {field}"
        )
    return _unknown(field, _TASKS_KEYS | {"values", "output"})


def _strings(value: Any, loc: tuple[str | int, ...], nested: bool, out: list[_Found]) -> None:
    """Append each string holding `{{` inside a model, list or mapping, with its place."""
    if isinstance(value, str):
        if "{{" in value:
            out.append((format_path(loc), value, nested))
    elif isinstance(value, BaseModel):
        for name, item in value.__dict__.items():  # a model's __dict__ holds exactly its fields
            if item is not None and name not in _NOT_SUBSTITUTED:
                inner = nested or (name == "task" and isinstance(value, ForEachTask))
                _strings(item, (*loc, name), inner, out)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _strings(item, (*loc, i), nested, out)
    elif isinstance(value, dict):
        for key, item in value.items():
            _strings(item, (*loc, str(key)), nested, out)
