"""Size and shape limits of raw job data, checked before the models see it (issue 11).

Everything here is iterative and stops early, so a hostile document (50 MB names, 5000 levels
of lists, NUL bytes in a command) costs one bounded pass and yields short messages that name
the field. The figures live in `headrace.limits` and docs/limits.md.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from headrace import limits
from headrace.errors import SpecError, SpecIssue
from headrace.spec._issues import format_path

# Enough to fix a file in one go; more would only make the answer long.
MAX_ISSUES = 20
_TOO_DEEP = f"nested too deeply (more than {limits.MAX_NESTING_DEPTH} levels)"


def raw_issues(data: Any) -> list[SpecIssue]:
    """Limit breaches of one job's raw settings: fields too long, too many tasks, too deep."""
    issues = _field_issues(data)
    named = {issue.path for issue in issues}
    for issue in shape_issues(data):
        if issue.path not in named:
            issues.append(issue)
    return issues[:MAX_ISSUES]


def shape_issues(data: Any, *, root: str = "") -> list[SpecIssue]:
    """Nesting deeper than the limit, NUL bytes and over-long text anywhere in `data`."""
    issues: list[SpecIssue] = []
    # (value, parent entry, key in parent, depth): paths are rebuilt only for the issues.
    stack: list[tuple[Any, Any, str | int | None, int]] = [(data, None, None, 0)]
    while stack and len(issues) < MAX_ISSUES:
        entry = stack.pop()
        value, _, _, depth = entry
        if isinstance(value, str):
            reason = text_error(value, limits.MAX_STRING_BYTES)
            if reason is not None:
                issues.append(SpecIssue(_path(root, _loc(entry)), reason))
        elif isinstance(value, list):
            if depth >= limits.MAX_NESTING_DEPTH:
                issues.append(SpecIssue(_path(root, _loc(entry)), _TOO_DEEP))
            else:
                stack.extend((item, entry, i, depth + 1) for i, item in enumerate(value))
        elif isinstance(value, dict):
            if depth >= limits.MAX_NESTING_DEPTH:
                issues.append(SpecIssue(_path(root, _loc(entry)), _TOO_DEEP))
                continue
            for key, item in value.items():
                if isinstance(key, str) and (len(key) > 64 or "\x00" in key):
                    reason = text_error(key, limits.MAX_KEY_CHARS, unit="characters")
                    if reason is not None:
                        issues.append(SpecIssue(_path(root, _loc(entry)), f"a key {reason}"))
                        continue
                stack.append((item, entry, key if isinstance(key, str) else str(key), depth + 1))
    issues.sort(key=lambda issue: issue.path)
    return issues


def _loc(entry: tuple[Any, Any, str | int | None, int]) -> tuple[str | int, ...]:
    """The keys from the root down to `entry`."""
    keys: list[str | int] = []
    while entry[1] is not None:
        keys.append(entry[2])
        entry = entry[1]
    return tuple(reversed(keys))


def depth_issue(data: Any) -> SpecIssue | None:
    """The first place where `data` nests deeper than the limit (any JSON body), or None."""
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(data, ())]
    while stack:
        value, loc = stack.pop()
        if not isinstance(value, dict | list):
            continue
        if len(loc) >= limits.MAX_NESTING_DEPTH:
            reason = f"nested too deeply (more than {limits.MAX_NESTING_DEPTH} levels)"
            return SpecIssue(_path("", loc), reason)
        items = enumerate(value) if isinstance(value, list) else value.items()
        stack.extend(
            (item, (*loc, key if isinstance(key, int) else str(key))) for key, item in items
        )
    return None


def text_error(text: str, limit: int, *, unit: str = "bytes") -> str | None:
    """Why `text` cannot be accepted (a NUL byte, longer than `limit`), or None."""
    if "\x00" in text:
        return "contains a NUL byte (\\0), which no command, path or parameter can hold"
    size = len(text) if unit == "characters" else _utf8_size(text, limit)
    if size > limit:
        return f"is {size} {unit} long; the limit is {limit}"
    return None


def parameter_issues(values: Any, field: str) -> list[SpecIssue]:
    """Limits on a `{name: value}` map of run parameters (jobs/run-now `job_parameters`)."""
    if not isinstance(values, dict):
        return []
    issues = []
    for name, value in values.items():
        where = f"{field}.{_short_key(str(name))}"
        reason = text_error(str(name), limits.MAX_PARAMETER_NAME_CHARS, unit="characters")
        if reason is not None:
            issues.append(SpecIssue(where, f"the name {reason}"))
        elif isinstance(value, str):
            reason = text_error(value, limits.MAX_PARAMETER_VALUE_BYTES)
            if reason is not None:
                issues.append(SpecIssue(where, reason))
        if len(issues) >= MAX_ISSUES:
            break
    return issues


def _field_issues(data: Any) -> list[SpecIssue]:
    """The limits Databricks documents per field, checked where those fields are."""
    if not isinstance(data, dict):
        return []
    issues = []
    checks = (
        ("name", limits.MAX_JOB_NAME_BYTES, "bytes"),
        ("description", limits.MAX_DESCRIPTION_CHARS, "characters"),
    )
    issues += _text_fields(data, "", checks)
    tasks = data.get("tasks")
    if isinstance(tasks, list):
        if len(tasks) > limits.MAX_TASKS_PER_JOB:
            reason = f"has {len(tasks)} tasks; a job has at most {limits.MAX_TASKS_PER_JOB}"
            return [*issues, SpecIssue("tasks", reason)]
        for i, task in enumerate(tasks):
            issues += _task_field_issues(task, f"tasks[{i}]")
    parameters = data.get("parameters")
    if isinstance(parameters, list):
        for i, parameter in enumerate(parameters[: limits.MAX_TASKS_PER_JOB]):
            checks = (
                ("name", limits.MAX_PARAMETER_NAME_CHARS, "characters"),
                ("default", limits.MAX_PARAMETER_VALUE_BYTES, "bytes"),
            )
            issues += _text_fields(parameter, f"parameters[{i}]", checks)
    return issues


def _task_field_issues(task: Any, path: str) -> list[SpecIssue]:
    checks = (
        ("task_key", limits.MAX_TASK_KEY_CHARS, "characters"),
        ("description", limits.MAX_DESCRIPTION_CHARS, "characters"),
    )
    issues = _text_fields(task, path, checks)
    loop = task.get("for_each_task") if isinstance(task, dict) else None
    if isinstance(loop, dict) and isinstance(loop.get("task"), dict):
        issues += _text_fields(loop["task"], f"{path}.for_each_task.task", checks)
    return issues


def _text_fields(data: Any, path: str, checks: tuple[tuple[str, int, str], ...]) -> list[SpecIssue]:
    if not isinstance(data, dict):
        return []
    issues = []
    for field, limit, unit in checks:
        value = data.get(field)
        if isinstance(value, str):
            reason = text_error(value, limit, unit=unit)
            if reason is not None:
                issues.append(SpecIssue(f"{path}.{field}" if path else field, reason))
    return issues


def _utf8_size(text: str, limit: int) -> int:
    """The UTF-8 size of `text` (exact when it matters: near or over `limit`)."""
    if len(text) * 4 <= limit:
        return len(text)  # cannot be over, whatever it holds
    return len(text.encode("utf-8", "surrogatepass"))


def _short_key(key: str) -> str:
    return key if len(key) <= 40 else key[:37] + "..."


def _path(root: str, loc: tuple[str | int, ...]) -> str:
    path = format_path(_short_key(p) if isinstance(p, str) else p for p in loc)
    if not root:
        return path
    return f"{root}{path}" if path.startswith("[") or not path else f"{root}.{path}"


# --- files ----------------------------------------------------------------------------------


def read_spec_file(path: Path) -> str:
    """The text of a job or bundle file, refusing what is not a regular file or is too large.

    Opened without blocking and checked before reading: a FIFO or `/dev/zero` gets a one-line
    error instead of a read that never ends.

    Raises:
        SpecError: missing, unreadable, not a regular file, too large, or not UTF-8.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise SpecError(f"no such file: {path}") from None
    except OSError as exc:
        raise SpecError(f"cannot read {path}: {exc.strerror or exc}") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise SpecError(f"cannot read {path}: {_kind(mode)}, not a regular file")
    with os.fdopen(fd, "rb") as f:
        try:
            raw = f.read(limits.MAX_SPEC_FILE_BYTES + 1)
        except OSError as exc:
            raise SpecError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(raw) > limits.MAX_SPEC_FILE_BYTES:
        raise SpecError(
            f"cannot read {path}: larger than the limit of {limits.MAX_SPEC_FILE_BYTES} bytes"
        )
    try:
        return raw.decode("utf-8-sig")  # tolerate a BOM from Windows editors
    except UnicodeDecodeError as exc:
        reason = f"not UTF-8 text ({exc.reason} at byte {exc.start})"
        raise SpecError(f"cannot read {path}: {reason}") from None


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "a special file"


# --- YAML -----------------------------------------------------------------------------------


def yaml_node_error(node: Any) -> str | None:
    """Why a composed YAML document is refused before it is built into Python data, or None.

    Aliases share nodes, so the document's size with every alias expanded is summed once per
    node (not once per use): a "billion laughs" file is measured in microseconds and refused.
    """
    import yaml

    sizes: dict[int, tuple[int, int, int]] = {}  # id(node) -> (nodes, text bytes, depth)
    open_nodes: set[int] = set()  # nodes being summed: the ancestors of the current one
    stack: list[tuple[Any, bool]] = [(node, False)]
    while stack:
        current, children_done = stack.pop()
        key = id(current)
        if children_done:
            open_nodes.discard(key)
            nodes, size, depth = 1, 0, 0
            for child in _yaml_children(current):
                child_nodes, child_size, child_depth = sizes[id(child)]
                nodes, size, depth = nodes + child_nodes, size + child_size, max(depth, child_depth)
            sizes[key] = (nodes, size, depth + 1)
            reason = _expansion_error(nodes, size, depth + 1)
            if reason is not None:
                return reason
            continue
        if key in sizes:
            continue
        if key in open_nodes:
            return "an alias refers to a node that contains it (a recursive document)"
        if isinstance(current, yaml.ScalarNode):
            sizes[key] = (1, len(current.value), 0)
            continue
        open_nodes.add(key)
        stack.append((current, True))
        stack.extend((child, False) for child in _yaml_children(current) if id(child) not in sizes)
    return None


def _yaml_children(node: Any) -> list[Any]:
    import yaml

    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _expansion_error(nodes: int, size: int, depth: int) -> str | None:
    if depth > limits.MAX_NESTING_DEPTH:
        return f"nested too deeply (more than {limits.MAX_NESTING_DEPTH} levels)"
    if nodes > limits.MAX_YAML_EXPANDED_NODES:
        return (
            f"with its aliases expanded the document has more than "
            f"{limits.MAX_YAML_EXPANDED_NODES} values; the limit guards against alias bombs"
        )
    if size > limits.MAX_YAML_EXPANDED_BYTES:
        return (
            f"with its aliases expanded the document holds more than "
            f"{limits.MAX_YAML_EXPANDED_BYTES} bytes of text; the limit guards against alias bombs"
        )
    return None


def load_yaml(text: str) -> Any:
    """Safe YAML with alias expansion and nesting bounded, for any YAML a user hands us.

    Raises:
        SpecError: the document is over the limits (the reason says which).
        yaml.YAMLError: it is not valid YAML.
    """
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        reason = yaml_node_error(node)
        if reason is not None:
            raise SpecError(f"refused YAML: {reason}")
        return loader.construct_document(node)
    finally:
        loader.dispose()
