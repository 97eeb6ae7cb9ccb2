"""The job builder's form (issue 17): job settings <-> the flat fields of an HTML form.

Pure and unit-tested; the pages are in `builder_form_pages`. The form never decides what is
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

import copy
import json
import re
from dataclasses import dataclass, field
from typing import Any

from headrace.errors import SpecError, SpecIssue
from headrace.spec.bounds import load_yaml
from headrace.spec.models import TASK_TYPES
from headrace.ui.builder_fields import (
    CHOICES,
    JOB_FIELDS,
    LOOSE_TYPES,
    PRINCIPAL_KINDS,
    ROW_PATHS,
    ROWS,
    TASK_FIELDS,
    TRIGGER_FIELDS,
    TRIGGER_PAUSE,
    TYPE_FIELDS,
    choices,
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
    "path_of",
    "place_issues",
    "settings_from_form",
]

Fields = dict[str, list[str]]


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
        f[path] = [_text(_get(doc, path), kind)]
    kind = trigger_kind(doc)
    f["trigger_kind"] = [kind]
    for path, k in [TRIGGER_PAUSE, *(x for fs in TRIGGER_FIELDS.values() for x in fs)]:
        f[path] = [_text(_get(doc, path), k)]
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
        items = _get(doc, path)
        items = items if isinstance(items, list) else []
        for i, item in enumerate(items):
            item = _acl_row(item) if prefix == "acl" else item
            item = item if isinstance(item, dict) else {}
            f[f"{prefix}.{i}.orig"] = [str(i)]
            for name, k in fields:
                f[f"{prefix}.{i}.{name}"] = [_text(_get(item, name), k)]
        model.rows[prefix] = len(items) + 1
    return model


def trigger_kind(doc: dict[str, Any]) -> str:
    """How the job starts, as the form's trigger choice ("other": a kind the form leaves
    to the YAML tab, such as job_completion)."""
    if doc.get("continuous") is not None:
        return "continuous"
    trigger = doc.get("trigger")
    if isinstance(trigger, dict):
        for kind in ("file_arrival", "periodic", "table_update"):
            if trigger.get(kind) is not None:
                return kind
        return "other"
    return "schedule" if doc.get("schedule") is not None else "none"


def task_type(task: dict[str, Any]) -> str:
    """The task's type field (the first set, as the spec orders them), or ""."""
    return next((t for t in TASK_TYPES if task.get(t) is not None), "")


def _task_to_fields(f: Fields, p: str, task: dict[str, Any]) -> None:
    for path, kind in TASK_FIELDS:
        f[f"{p}.{path}"] = [_text(_get(task, path), kind)]
    kind = task_type(task)
    f[f"{p}.type"] = [kind]
    body = task.get(kind) if kind else None
    if kind in TYPE_FIELDS and isinstance(body, dict):
        for path, k in TYPE_FIELDS[kind]:
            f[f"{p}.{kind}.{path}"] = [_text(_get(body, path), k)]
        if kind == "for_each_task":
            inner = body.get("task") if isinstance(body.get("task"), dict) else {}
            f[f"{p}.inner.task_key"] = [_text(inner.get("task_key"), "text")]
            _type_to_fields(f, f"{p}.inner", inner)
    elif kind:
        f[f"{p}.{kind}.yaml"] = [_yaml(body)]


def _type_to_fields(f: Fields, p: str, task: dict[str, Any]) -> None:
    kind = task_type(task)
    f[f"{p}.type"] = [kind]
    body = task.get(kind)
    if kind in TYPE_FIELDS and kind != "for_each_task" and isinstance(body, dict):
        for path, k in TYPE_FIELDS[kind]:
            f[f"{p}.{kind}.{path}"] = [_text(_get(body, path), k)]
    elif kind:
        f[f"{p}.{kind}.yaml"] = [_yaml(body)]


def _acl_row(entry: Any) -> Any:
    if not isinstance(entry, dict):
        return entry
    kind = next((k for k in PRINCIPAL_KINDS if entry.get(k)), "")
    return {**entry, "who_kind": kind, "who": entry.get(kind, "")}


def _text(value: Any, kind: str) -> str:
    if value is None:
        return ""
    if kind == "bool":
        return "true" if value is True else ""
    if kind == "lines" and isinstance(value, list):
        return "\n".join(str(v) for v in value)
    if kind == "kv" and isinstance(value, dict):
        return "\n".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def _yaml(value: Any) -> str:
    import yaml

    return yaml.safe_dump(value, sort_keys=False, allow_unicode=True) if value else ""


# ---- form -> settings ----


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
        _put(doc, path, one(path), kind, base)
    _read_trigger(doc, one, base)
    doc_tasks = _read_tasks(fields, base, issues)
    if doc_tasks or "tasks" in doc:
        doc["tasks"] = doc_tasks
    for prefix, (path, row_fields) in ROWS.items():
        rows = _read_rows(fields, prefix, row_fields, _get(base, path))
        if prefix == "acl":
            rows = [_api_acl(r) for r in rows]
        if rows or _get(base, path) is not None:
            _set(doc, path, rows)
    return doc, issues


def _reader(fields: Fields) -> Any:
    return lambda name: ((fields.get(name) or [""])[0] or "").replace("\r\n", "\n")


def _read_trigger(doc: dict[str, Any], one: Any, base: dict[str, Any]) -> None:
    kind = one("trigger_kind") or trigger_kind(base)
    if kind == "other":
        return  # a trigger the form does not edit: kept as it was
    for path, k in TRIGGER_FIELDS.get(kind, []):
        _put(doc, path, one(path), k, base)
    if kind == "schedule" and isinstance(doc.get("schedule"), dict):
        doc["schedule"].setdefault("timezone_id", "UTC")  # the form's default zone
    if kind != "schedule":
        doc.pop("schedule", None)
    if kind != "continuous":
        doc.pop("continuous", None)
    elif not isinstance(doc.get("continuous"), dict):
        doc["continuous"] = {}
    if kind in ("file_arrival", "periodic", "table_update"):
        _put(doc, TRIGGER_PAUSE[0], one(TRIGGER_PAUSE[0]), TRIGGER_PAUSE[1], base)
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
            base = _acl_row(base)
        row = copy.deepcopy(base)
        for name, kind in row_fields:
            _put(row, name, one(f"{p}.{name}"), kind, base)
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
            _put(task, path, one(f"{p}.{path}"), kind, old)
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
            _put(body, path, one(f"{p}.{kind}.{path}"), k, old_body)
        if kind == "for_each_task":
            inner_old = old_body.get("task") if isinstance(old_body.get("task"), dict) else {}
            inner = copy.deepcopy(inner_old)
            _put(inner, "task_key", one(f"{p}.inner.task_key"), "text", inner_old)
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


# ---- one value ----


def _put(d: dict[str, Any], path: str, raw: str, kind: str, base: dict[str, Any]) -> None:
    """Set `path` in `d` from a field's text; empty text removes it, unless the opened
    settings held an empty value there (kept, so a round trip changes nothing)."""
    before = _get(base, path)
    if raw == "" or (kind == "bool" and raw != "true"):
        if _text(before, kind) != "":  # else it was empty or absent: left as it was
            _drop(d, path)
        return
    _set(d, path, _value(raw, kind))


def _value(raw: str, kind: str) -> Any:
    if kind == "bool":
        return True
    if kind in ("int", "job"):
        text = raw.strip()
        return (
            int(text) if re.fullmatch(r"-?[0-9]{1,18}", text) else raw
        )  # bad: validation names it
    if kind == "lines":
        return [line.strip() for line in raw.split("\n") if line.strip()]
    if kind == "kv":
        out: dict[str, str] = {}
        for line in raw.split("\n"):
            if line.strip():
                k, _, v = line.partition("=")
                out[k.strip()] = v.strip()
        return out
    return raw


def _get(d: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(d, dict):
            return None
        d = d.get(part)
    return d


def _set(d: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for part in parents:
        if not isinstance(d.get(part), dict):
            d[part] = {}
        d = d[part]
    d[last] = value


def _drop(d: dict[str, Any], path: str) -> None:
    """Remove `path`, and the parents it leaves empty."""
    *parents, last = path.split(".")
    chain = [d]
    for part in parents:
        nxt = chain[-1].get(part)
        if not isinstance(nxt, dict):
            return
        chain.append(nxt)
    chain[-1].pop(last, None)
    for depth in range(len(parents), 0, -1):
        if chain[depth]:
            break
        chain[depth - 1].pop(parents[depth - 1], None)


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
