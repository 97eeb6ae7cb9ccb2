"""One value of the job builder's form, both ways: a settings value as a field's text and
back, dotted paths in a job document, and which task type or trigger a document has. Shared by
`builder_form.py` (settings -> form) and `builder_form_read.py` (form -> settings)."""

from __future__ import annotations

import json
import re
from typing import Any

from headrace.spec.models import TASK_TYPES
from headrace.ui.builder_fields import PRINCIPAL_KINDS

Fields = dict[str, list[str]]


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


def acl_row(entry: Any) -> Any:
    if not isinstance(entry, dict):
        return entry
    kind = next((k for k in PRINCIPAL_KINDS if entry.get(k)), "")
    return {**entry, "who_kind": kind, "who": entry.get(kind, "")}


def field_text(value: Any, kind: str) -> str:
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


def yaml_text(value: Any) -> str:
    import yaml

    return yaml.safe_dump(value, sort_keys=False, allow_unicode=True) if value else ""


def put_value(d: dict[str, Any], path: str, raw: str, kind: str, base: dict[str, Any]) -> None:
    """Set `path` in `d` from a field's text; empty text removes it, unless the opened
    settings held an empty value there (kept, so a round trip changes nothing)."""
    before = get_path(base, path)
    if raw == "" or (kind == "bool" and raw != "true"):
        if field_text(before, kind) != "":  # else it was empty or absent: left as it was
            drop_path(d, path)
        return
    set_path(d, path, parse_value(raw, kind))


def parse_value(raw: str, kind: str) -> Any:
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


def get_path(d: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(d, dict):
            return None
        d = d.get(part)
    return d


def set_path(d: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for part in parents:
        if not isinstance(d.get(part), dict):
            d[part] = {}
        d = d[part]
    d[last] = value


def drop_path(d: dict[str, Any], path: str) -> None:
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
