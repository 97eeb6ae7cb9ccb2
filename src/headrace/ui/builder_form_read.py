"""The job builder's form read back into a job document (`settings_from_form`): each field
moved into place over the settings the form was opened with, rows matched to the entries they
came from, a task's dependencies from row numbers. See `builder_form.py` for the field names."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from headrace.errors import SpecError, SpecIssue
from headrace.spec.bounds import load_yaml
from headrace.spec.models import TASK_TYPES
from headrace.ui.builder_fields import (
    JOB_FIELDS,
    PRINCIPAL_KINDS,
    ROWS,
    TASK_FIELDS,
    TRIGGER_FIELDS,
    TRIGGER_PAUSE,
    TYPE_FIELDS,
)
from headrace.ui.builder_form_values import (
    Fields,
    acl_row,
    get_path,
    put_value,
    set_path,
    trigger_kind,
)


def settings_from_form(fields: Fields) -> tuple[dict[str, Any], list[SpecIssue]]:
    """The job document the form says, and the issues found while reading it (a bad JSON
    `base`, YAML of a type the form edits as text). Checking the settings is the engine's."""
    issues: list[SpecIssue] = []
    one = _reader(fields)
    try:
        base = json.loads(one("base") or "{}")
    except (ValueError, RecursionError):  # posted by hand: damaged or hostile
        base = None
    if not isinstance(base, dict):
        base, issues = {}, [SpecIssue("base", "the form's saved settings are damaged: reload")]
    doc = copy.deepcopy(base)
    for path, kind in JOB_FIELDS:
        put_value(doc, path, one(path), kind, base)
    _read_trigger(doc, one, base)
    doc_tasks = _read_tasks(fields, base, issues)
    if doc_tasks or "tasks" in doc:
        doc["tasks"] = doc_tasks
    for prefix, (path, row_fields) in ROWS.items():
        rows = _read_rows(fields, prefix, row_fields, get_path(base, path))
        if prefix == "acl":
            rows = [_api_acl(r) for r in rows]
        if rows or get_path(base, path) is not None:
            set_path(doc, path, rows)
    return doc, issues


def _reader(fields: Fields) -> Any:
    return lambda name: ((fields.get(name) or [""])[0] or "").replace("\r\n", "\n")


def _read_trigger(doc: dict[str, Any], one: Any, base: dict[str, Any]) -> None:
    kind = one("trigger_kind") or trigger_kind(base)
    if kind == "other":
        return  # a trigger the form does not edit: kept as it was
    for path, k in TRIGGER_FIELDS.get(kind, []):
        put_value(doc, path, one(path), k, base)
    if kind == "schedule" and isinstance(doc.get("schedule"), dict):
        doc["schedule"].setdefault("timezone_id", "UTC")  # the form's default zone
    if kind != "schedule":
        doc.pop("schedule", None)
    if kind != "continuous":
        doc.pop("continuous", None)
    elif not isinstance(doc.get("continuous"), dict):
        doc["continuous"] = {}
    if kind in ("file_arrival", "periodic", "table_update"):
        put_value(doc, TRIGGER_PAUSE[0], one(TRIGGER_PAUSE[0]), TRIGGER_PAUSE[1], base)
        if not isinstance(doc.get("trigger"), dict):
            doc["trigger"] = {}
        trigger = doc["trigger"]
        for other in ("file_arrival", "periodic", "table_update", "table"):
            if other != kind:
                trigger.pop(other, None)
        trigger.setdefault(kind, {})
    else:
        doc.pop("trigger", None)


def is_index(raw: str) -> bool:
    """A row number as the form writes it (`str.isdigit` also takes '²', which int() refuses)."""
    return re.fullmatch(r"[0-9]{1,6}", raw) is not None


def _rows_of(fields: Fields, prefix: str) -> list[int]:
    found = set()
    for name in fields:
        m = re.match(rf"{re.escape(prefix)}\.([0-9]{{1,6}})\.", name)
        if m:
            found.add(int(m.group(1)))
    return sorted(found)


def _read_rows(
    fields: Fields, prefix: str, row_fields: list[tuple[str, str]], base_items: Any
) -> list[dict[str, Any]]:
    one = _reader(fields)
    items = base_items if isinstance(base_items, list) else []
    out = []
    for i in _rows_of(fields, prefix):
        p = f"{prefix}.{i}"
        if one(f"{p}.remove"):
            continue
        if not any(one(f"{p}.{name}") for name, _ in row_fields):
            continue
        orig = _index(one(f"{p}.orig"), items)
        base = items[orig] if orig is not None and isinstance(items[orig], dict) else {}
        if prefix == "acl":
            base = acl_row(base)
        row = copy.deepcopy(base)
        for name, kind in row_fields:
            put_value(row, name, one(f"{p}.{name}"), kind, base)
        out.append(row)
    return out


def _api_acl(row: dict[str, Any]) -> dict[str, Any]:
    """A form row as an access_control_list entry (one principal key, then the level)."""
    kind, who = row.pop("who_kind", ""), row.pop("who", "")
    for k in PRINCIPAL_KINDS:
        row.pop(k, None)
    out = {kind or "user_name": who} if who else {}
    return {**out, **row}


def _index(raw: str, items: list[Any]) -> int | None:
    return int(raw) if is_index(raw) and int(raw) < len(items) else None


def _read_tasks(fields: Fields, base: dict[str, Any], issues: list[SpecIssue]) -> list[Any]:
    one = _reader(fields)
    base_tasks = base.get("tasks") if isinstance(base.get("tasks"), list) else []
    rows = [i for i in _rows_of(fields, "task") if not one(f"task.{i}.remove")]
    key_of = {i: one(f"task.{i}.task_key") for i in rows}
    out: list[Any] = []
    for n, i in enumerate(rows):
        p = f"task.{i}"
        orig = _index(one(f"{p}.orig"), base_tasks)
        old = base_tasks[orig] if orig is not None else {}
        old = old if isinstance(old, dict) else {}
        task = copy.deepcopy(old)
        for path, kind in TASK_FIELDS:
            put_value(task, path, one(f"{p}.{path}"), kind, old)
        _read_type(fields, p, task, old, f"tasks[{n}]", issues, nested=False)
        task_deps = _read_deps(fields, p, rows, key_of, old, base_tasks)
        if task_deps or "depends_on" in old:
            task["depends_on"] = task_deps
        out.append(task)
    return out


def _read_type(
    fields: Fields,
    p: str,
    task: dict[str, Any],
    old: dict[str, Any],
    where: str,
    issues: list[SpecIssue],
    *,
    nested: bool,
) -> None:
    import yaml

    one = _reader(fields)
    kind = one(f"{p}.type")
    if kind not in TASK_TYPES:
        return  # no type chosen: the task keeps what it had (validation names the gap)
    for other in TASK_TYPES:
        if other != kind:
            task.pop(other, None)
    old_body = old.get(kind) if isinstance(old.get(kind), dict) else {}
    if kind in TYPE_FIELDS and not (nested and kind == "for_each_task"):
        body = copy.deepcopy(old_body)
        for path, k in TYPE_FIELDS[kind]:
            put_value(body, path, one(f"{p}.{kind}.{path}"), k, old_body)
        if kind == "for_each_task":
            inner_old = old_body.get("task") if isinstance(old_body.get("task"), dict) else {}
            inner = copy.deepcopy(inner_old)
            put_value(inner, "task_key", one(f"{p}.inner.task_key"), "text", inner_old)
            w = f"{where}.for_each_task.task"
            _read_type(fields, f"{p}.inner", inner, inner_old, w, issues, nested=True)
            body["task"] = inner
        task[kind] = body
        return
    text = one(f"{p}.{kind}.yaml")
    try:
        body = load_yaml(text) if text.strip() else {}  # bounded: alias bombs refused
    except (yaml.YAMLError, SpecError) as exc:
        issues.append(SpecIssue(f"{where}.{kind}", f"not YAML: {exc}"))
        body = old_body
    task[kind] = body if body is not None else {}


def _read_deps(
    fields: Fields,
    p: str,
    rows: list[int],
    key_of: dict[int, str],
    old: dict[str, Any],
    base_tasks: list[Any],
) -> list[dict[str, Any]]:
    """The task's upstreams in the order it had them, new ones after in row order; an
    upstream the form does not know (a typo in the YAML) is kept for validation to name."""
    one = _reader(fields)
    chosen = [int(r) for r in fields.get(f"{p}.depends_on", []) if is_index(r)]
    chosen = [r for r in chosen if r in key_of]
    orig_row = {}
    for r in rows:
        o = _index(one(f"task.{r}.orig"), base_tasks)
        if o is not None and isinstance(base_tasks[o], dict):
            orig_row[base_tasks[o].get("task_key")] = r
    known = {t.get("task_key") for t in base_tasks if isinstance(t, dict)}
    order: list[int] = []
    out: list[dict[str, Any]] = []
    old_deps = old.get("depends_on") if isinstance(old.get("depends_on"), list) else []
    for dep in old_deps:
        up = dep.get("task_key") if isinstance(dep, dict) else None
        if up in orig_row and orig_row[up] in chosen and orig_row[up] not in order:
            order.append(orig_row[up])
        elif up not in known:
            out.append(dep)
    order += [r for r in sorted(set(chosen)) if r not in order]
    deps = []
    for r in order:
        dep: dict[str, Any] = {"task_key": key_of[r]}
        outcome = one(f"{p}.outcome.{r}")
        if outcome:
            dep["outcome"] = outcome
        deps.append(dep)
    return deps + out
