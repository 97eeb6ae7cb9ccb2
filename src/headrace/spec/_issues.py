"""Turn pydantic validation errors into `SpecIssue`s with field paths and plain reasons."""

from __future__ import annotations

import re
import sys
import types
from collections.abc import Iterable, Sequence
from typing import Any, ForwardRef, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from headrace.errors import SpecIssue

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# Task types the Jobs API knows and Headrace does not: a clearer reason than "unknown field".
UNSUPPORTED_TASK_TYPES = frozenset(
    {
        "dashboard_task",
        "alert_task",
        "power_bi_task",
        "clean_rooms_notebook_task",
        "gen_ai_compute_task",
        "ai_function_task",
        "ai_runtime_task",
        "python_operator_task",
        "dbt_cloud_task",
        "dbt_platform_task",
    }
)

_TYPE_NAMES = {
    "string_type": "a string",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "a boolean (true or false)",
    "bool_parsing": "a boolean (true or false)",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}


def format_path(loc: Iterable[str | int]) -> str:
    """`("tasks", 2, "depends_on", 0, "task_key")` -> `tasks[2].depends_on[0].task_key`."""
    out = ""
    for item in loc:
        if isinstance(item, int):
            out += f"[{item}]"
        elif _IDENT.match(item):
            out += f".{item}" if out else item
        else:
            out += f"[{item!r}]"
    return out


def join_path(prefix: str, path: str) -> str:
    """Join two field paths (`jobs[1]` + `tasks[0]` -> `jobs[1].tasks[0]`)."""
    if not prefix:
        return path
    if not path:
        return prefix
    return f"{prefix}{path}" if path.startswith("[") else f"{prefix}.{path}"


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """` (did you mean 'x'?)` for the closest candidate, or ""."""
    import difflib  # only on the error path

    match = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean '{match[0]}'?)" if match else ""


def issues_from_validation_error(
    error: ValidationError, root: type[BaseModel], prefix: str = ""
) -> list[SpecIssue]:
    """One `SpecIssue` per pydantic error, with paths relative to `root` and then `prefix`."""
    issues = []
    for err in error.errors(include_url=False):
        loc = tuple(item for item in err["loc"] if item != "[key]")
        issues.append(SpecIssue(join_path(prefix, format_path(loc)), _message(err, root, loc)))
    return issues


def _message(err: Any, root: type[BaseModel], loc: tuple[str | int, ...]) -> str:
    """A short reason for one pydantic error."""
    kind, ctx, value = err["type"], err.get("ctx") or {}, err.get("input")
    if kind == "missing":
        return "field required"
    if kind == "extra_forbidden":
        return _unknown_field(root, loc)
    if kind in ("literal_error", "enum"):
        expected = ctx.get("expected", "").replace("'", "").replace(" or ", ", ")
        return f"must be one of: {expected} (got {_short(value)})"
    if kind in _TYPE_NAMES:
        return f"must be {_TYPE_NAMES[kind]} (got {_short(value)})"
    if kind == "greater_than_equal":
        return f"must be >= {ctx['ge']} (got {_short(value)})"
    if kind == "less_than_equal":
        return f"must be <= {ctx['le']} (got {_short(value)})"
    if kind == "string_too_long":
        return f"must be at most {ctx['max_length']} characters (got {len(value)})"
    if kind == "string_pattern_mismatch":
        allowed = ctx["pattern"].removeprefix("^").removesuffix("$").removesuffix("+")
        return f"{_short(value)} may only contain characters in {allowed}"
    if kind == "value_error":
        return str(err["msg"]).removeprefix("Value error, ")
    return str(err["msg"])


def _unknown_field(root: type[BaseModel], loc: Sequence[str | int]) -> str:
    """`unknown field 'x'`, with a suggestion from the fields of the model at that place."""
    name = str(loc[-1]) if loc else ""
    model = _model_at(root, loc[:-1])
    if model is None:
        return f"unknown field '{name}'"
    if name in UNSUPPORTED_TASK_TYPES and "task_key" in model.model_fields:
        return f"task type '{name}' is not supported by Headrace"
    return f"unknown field '{name}'{did_you_mean(name, model.model_fields)}"


def _model_at(root: type[BaseModel], loc: Sequence[str | int]) -> type[BaseModel] | None:
    """The model class found by following `loc` down the field annotations from `root`."""
    current: Any = root
    for item in loc:
        current = _unwrap_optional(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(item))
            current = _resolve(field.annotation, current) if field else None
        elif get_origin(current) in (list, dict):
            current = get_args(current)[-1]
        else:
            return None
    current = _unwrap_optional(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _resolve(annotation: Any, owner: type[BaseModel]) -> Any:
    """A forward reference (e.g. `for_each_task.task: Task`) looked up in its model's module."""
    if isinstance(annotation, ForwardRef):
        return getattr(sys.modules[owner.__module__], annotation.__forward_arg__, None)
    return annotation


def _unwrap_optional(annotation: Any) -> Any:
    """`X | None` -> `X`."""
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        return args[0] if len(args) == 1 else annotation
    return annotation


def _short(value: Any) -> str:
    """A value as it would appear in a message, cut to a readable length.

    Built by `reprlib`, which stops after a few items and levels: a value shared through YAML
    aliases is never expanded into a message (issue 11).
    """
    import reprlib

    shortener = reprlib.Repr()
    shortener.maxlevel, shortener.maxlist, shortener.maxdict = 2, 4, 4
    shortener.maxstring = shortener.maxother = 40
    text = shortener.repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
