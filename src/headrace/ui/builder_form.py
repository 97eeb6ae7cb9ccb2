"""The job builder's form (issue 17): job settings <-> the flat fields of an HTML form.

Pure and unit-tested; the pages are in `builder_form_pages`. This module builds the form from
settings; `builder_form_read.py` reads it back, `builder_form_values.py` holds what both
directions share (one value as text and back, paths in a document). The form never decides what is
valid: `settings_from_form` only moves values into place (a number that does not parse stays
text, so the Jobs API's own validation names the field), and the page saves through
`engine.jobs` like the API and the YAML tab.

Nothing is lost: the form carries the settings it was opened with as JSON (`base`), and each
task or list row names the entry it came from (`.orig`), so a field the form does not show
(a task's `libraries`, a cluster's `spark_conf`, ...) comes back as it was. A shown field left
empty removes its key, unless the key held an empty value already (round trip both ways).

Field names: job fields by their settings path (`schedule.quartz_cron_expression`); list rows
`<row>.<i>.<path>` (`task.0.max_retries`, `task.0.sql_task.query.query_text`); a task's
dependencies are the row numbers of its upstream tasks, so a renamed task keeps its edges.
The dependency's `outcome` (after a condition task) is `task.<i>.outcome.<upstream row>`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from headrace.errors import SpecIssue
from headrace.spec.models import TASK_TYPES
from headrace.ui.builder_fields import (
    CHOICES,
    JOB_FIELDS,
    LOOSE_TYPES,
    ROW_PATHS,
    ROWS,
    TASK_FIELDS,
    TRIGGER_FIELDS,
    TRIGGER_PAUSE,
    TYPE_FIELDS,
    choices,
)
from headrace.ui.builder_form_read import is_index, settings_from_form
from headrace.ui.builder_form_values import (
    Fields,
    acl_row,
    field_text,
    get_path,
    task_type,
    trigger_kind,
    yaml_text,
)

__all__ = [  # the templates read the field tables through this module
    "CHOICES",
    "LOOSE_TYPES",
    "ROWS",
    "TASK_TYPES",
    "TRIGGER_FIELDS",
    "TYPE_FIELDS",
    "FormModel",
    "choices",
    "form_from_settings",
    "is_index",
    "path_of",
    "place_issues",
    "settings_from_form",
    "task_type",
    "trigger_kind",
]


@dataclass
class FormModel:
    """What the form shows: its fields' values, and the rows of each list (task rows carry
    their key and type for the dependency checkboxes and the type pickers)."""

    fields: Fields = field(default_factory=dict)
    tasks: list[dict[str, str]] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)  # prefix -> rows shown (one spare)

    def value(self, name: str) -> str:
        return (self.fields.get(name) or [""])[0]

    def values(self, name: str) -> list[str]:
        return self.fields.get(name) or []


# ---- settings -> form ----


def form_from_settings(doc: dict[str, Any]) -> FormModel:
    """The form of a job document (settings, plus `access_control_list` when it is edited
    here). A spare empty row follows each list so one more can be added without a script."""
    model = FormModel()
    f = model.fields
    f["base"] = [json.dumps(doc)]
    for path, kind in JOB_FIELDS:
        f[path] = [field_text(get_path(doc, path), kind)]
    kind = trigger_kind(doc)
    f["trigger_kind"] = [kind]
    for path, k in [TRIGGER_PAUSE, *(x for fs in TRIGGER_FIELDS.values() for x in fs)]:
        f[path] = [field_text(get_path(doc, path), k)]
    tasks = doc.get("tasks") if isinstance(doc.get("tasks"), list) else []
    keys = [str(t.get("task_key", "")) if isinstance(t, dict) else "" for t in tasks]
    for i, task in enumerate(tasks):
        task = task if isinstance(task, dict) else {}
        _task_to_fields(f, f"task.{i}", task)
        f[f"task.{i}.orig"] = [str(i)]
        deps = task.get("depends_on") if isinstance(task.get("depends_on"), list) else []
        for dep in deps:
            up = dep.get("task_key") if isinstance(dep, dict) else None
            if up in keys:
                row = keys.index(up)
                f.setdefault(f"task.{i}.depends_on", []).append(str(row))
                if dep.get("outcome") is not None:
                    f[f"task.{i}.outcome.{row}"] = [str(dep["outcome"]).lower()]
        model.tasks.append({"row": str(i), "key": keys[i], "type": f[f"task.{i}.type"][0]})
    model.rows["task"] = len(tasks)
    for prefix, (path, fields) in ROWS.items():
        items = get_path(doc, path)
        items = items if isinstance(items, list) else []
        for i, item in enumerate(items):
            item = acl_row(item) if prefix == "acl" else item
            item = item if isinstance(item, dict) else {}
            f[f"{prefix}.{i}.orig"] = [str(i)]
            for name, k in fields:
                f[f"{prefix}.{i}.{name}"] = [field_text(get_path(item, name), k)]
        model.rows[prefix] = len(items) + 1
    return model


def _task_to_fields(f: Fields, p: str, task: dict[str, Any]) -> None:
    for path, kind in TASK_FIELDS:
        f[f"{p}.{path}"] = [field_text(get_path(task, path), kind)]
    kind = task_type(task)
    f[f"{p}.type"] = [kind]
    body = task.get(kind) if kind else None
    if kind in TYPE_FIELDS and isinstance(body, dict):
        for path, k in TYPE_FIELDS[kind]:
            f[f"{p}.{kind}.{path}"] = [field_text(get_path(body, path), k)]
        if kind == "for_each_task":
            inner = body.get("task") if isinstance(body.get("task"), dict) else {}
            f[f"{p}.inner.task_key"] = [field_text(inner.get("task_key"), "text")]
            _type_to_fields(f, f"{p}.inner", inner)
    elif kind:
        f[f"{p}.{kind}.yaml"] = [yaml_text(body)]


def _type_to_fields(f: Fields, p: str, task: dict[str, Any]) -> None:
    kind = task_type(task)
    f[f"{p}.type"] = [kind]
    body = task.get(kind)
    if kind in TYPE_FIELDS and kind != "for_each_task" and isinstance(body, dict):
        for path, k in TYPE_FIELDS[kind]:
            f[f"{p}.{kind}.{path}"] = [field_text(get_path(body, path), k)]
    elif kind:
        f[f"{p}.{kind}.yaml"] = [yaml_text(body)]


# ---- errors next to their fields ----


def path_of(name: str) -> str:
    """The settings path a field writes (`task.2.max_retries` -> `tasks[2].max_retries`)."""
    m = re.match(r"(\w+)\.(\d+)(?:\.(.*))?$", name)
    if m and m.group(1) in ROW_PATHS:
        prefix, i, rest = m.groups()
        if prefix == "task" and rest and rest.startswith("inner."):
            rest = "for_each_task.task." + rest.removeprefix("inner.")
        if prefix == "task" and rest and rest.endswith(".yaml"):
            rest = rest.removesuffix(".yaml")
        if prefix == "acl" and rest in ("who_kind", "who"):
            rest = None
        return f"{ROW_PATHS[prefix]}[{i}]" + (f".{rest}" if rest else "")
    return name


def place_issues(issues: list[SpecIssue], model: FormModel) -> dict[str, list[str]]:
    """Each issue under the nearest field path the form shows (a task row, a list row, or
    "" for the top of the form): {path: [messages]}."""
    shown = {path_of(n) for n in model.fields} | set(ROW_PATHS.values())
    for prefix, count in model.rows.items():
        shown |= {f"{ROW_PATHS[prefix]}[{i}]" for i in range(count)}
    placed: dict[str, list[str]] = {}
    for issue in issues:
        path = issue.path
        while path not in shown:
            parent = re.sub(r"(\.[^.\[\]]+|\[\d+\])$", "", path)
            path = parent if parent != path else ""
            if not path:
                break
        placed.setdefault(path, []).append(issue.message)
    return placed
