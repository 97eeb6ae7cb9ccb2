"""Substituting dynamic value references (`{{job.run_id}}`...) when a task starts."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from headrace.spec.references import (
    UnresolvedReference,
    render,
    table_update_field,
    time_fields,
)
from headrace.store import runs as run_store
from headrace.store.records import Run
from headrace.store.sql import Tx as Connection

# Databricks' legacy single-word references and what they mean now.
_LEGACY = {
    "job_id": ("job", "id"),
    "run_id": ("task", "run_id"),
    "parent_run_id": ("job", "run_id"),
    "start_date": ("job", "start_time", "iso_date"),
    "start_time": ("job", "start_time", "timestamp_ms"),
    "task_retry_count": ("task", "retry_count"),
    "task_key": ("task", "name"),
}


def as_text(value: Any) -> str:
    """How a value appears inside a parameter: strings as they are, the rest as JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value)


@dataclass
class ReferenceScope:
    """Everything a reference may name for one task about to start."""

    conn: Connection
    run: Run
    job_name: str
    task_key: str | None = None
    task_run_id: int | None = None
    attempt_number: int = 0
    notebook_path: str | None = None
    input: Any = None
    has_input: bool = False

    def __call__(self, parts: tuple[str, ...]) -> str:
        if len(parts) == 1 and parts[0] in _LEGACY:
            parts = _LEGACY[parts[0]]
        head, rest = parts[0], parts[1:]
        if head == "job":
            return self._job(rest)
        if head == "task":
            return self._task(rest)
        if head == "tasks" and rest:
            return self._tasks(rest[0], rest[1:])
        if head == "input" and self.has_input:
            return self._input(rest)
        if head == "workspace":
            return {"id": "0", "url": "http://127.0.0.1"}.get(rest[0] if rest else "", "")
        if head == "backfill" and len(rest) == 1:
            return self._backfill(rest[0])
        raise UnresolvedReference(f"cannot resolve {{{{{'.'.join(parts)}}}}} here")

    def _job(self, rest: tuple[str, ...]) -> str:
        run = self.run
        start = datetime.fromtimestamp(run.start_time / 1000, UTC)
        simple = {
            ("id",): str(run.job_id or ""),
            ("name",): self.job_name,
            ("run_id",): str(run.run_id),
            ("repair_count",): str(run.repair_count),
            ("trigger", "type"): run.trigger_type.lower(),
        }
        if rest in simple:
            return simple[rest]
        if len(rest) == 2 and rest[0] == "start_time":
            return _time_arg(start, rest[1])
        if len(rest) == 3 and rest[:2] == ("trigger", "time"):
            return _time_arg(self._trigger_time(start), rest[2])
        if rest == ("trigger", "file_arrival", "location"):
            return self._file_arrival_location()
        if rest[:2] == ("trigger", "table_update"):
            return self._table_update(rest[2:])
        if len(rest) == 2 and rest[0] == "parameters":
            params = run.parameters
            if rest[1] in params:
                return params[rest[1]]
        raise UnresolvedReference(f"unknown reference {{{{job.{'.'.join(rest)}}}}}")

    def _trigger_time(self, start: datetime) -> datetime:
        """When the trigger fired: a cron or periodic run's scheduled time, else the start."""
        scheduled = (self.run.trigger_info or {}).get("scheduled_time")
        if isinstance(scheduled, int):
            return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=scheduled)
        return start

    def _backfill(self, arg: str) -> str:
        """A backfill run's logical date (issue 16); other runs: their trigger time."""
        start = datetime.fromtimestamp(self.run.start_time / 1000, UTC)
        info = (self.run.trigger_info or {}).get("backfill")
        logical = info.get("logical_time") if isinstance(info, dict) else None
        if isinstance(logical, int):
            moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=logical)
        else:
            moment = self._trigger_time(start)
        if arg not in ("iso_date", "iso_datetime"):
            raise UnresolvedReference(f"unknown reference {{{{backfill.{arg}}}}}")
        return _time_arg(moment, arg)

    def _file_arrival_location(self) -> str:
        """The watched URL: from the trigger that started the run, else the run's settings
        (e.g. run-now of a file-arrival job); empty when the job watches nothing."""
        info = (self.run.trigger_info or {}).get("file_arrival")
        if isinstance(info, dict) and isinstance(info.get("location"), str):
            return info["location"]
        settings = json.loads(run_store.run_settings(self.conn, self.run.run_id))
        watched = (settings.get("trigger") or {}).get("file_arrival") or {}
        return str(watched.get("url", ""))

    def _table_update(self, rest: tuple[str, ...]) -> str:
        """What the table-update trigger saw: the updated tables (a JSON list), a table's
        version or commit time. A run the trigger did not start (run-now of such a job) has
        no updated tables, and a table's version and time are empty."""
        found = table_update_field(rest)
        if found is None:
            raise UnresolvedReference(
                f"unknown reference {{{{job.trigger.table_update.{'.'.join(rest)}}}}}"
            )
        table, field = found
        info = (self.run.trigger_info or {}).get("table_update")
        info = info if isinstance(info, dict) else {}
        if field == ("updated_tables",):
            return json.dumps(list(info.get("updated_tables") or []))
        tables = info.get("tables") if isinstance(info.get("tables"), dict) else {}
        entry = tables.get(table)
        if entry is None:  # written differently in the reference than in table_names
            from headrace.warehouse.changes import canonical

            wanted = canonical(table)
            entry = next((v for k, v in tables.items() if canonical(k) == wanted), None)
        if not isinstance(entry, dict):
            return ""
        if field == ("version",):
            return "" if entry.get("version") is None else str(entry["version"])
        commit = entry.get("commit_timestamp")
        if not isinstance(commit, int):
            return ""
        moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=commit)
        return _time_arg(moment, field[1])

    def _task(self, rest: tuple[str, ...]) -> str:
        if rest == ("execution_count",):
            # Attempts so far (retries and repairs included) plus the one starting now.
            done = run_store.execution_count(self.conn, self.run.run_id, self.task_key or "")
            return str(done + 1)
        values = {
            ("name",): self.task_key or "",
            ("run_id",): str(self.task_run_id or ""),
            ("retry_count",): str(self.attempt_number),
            ("notebook_path",): self.notebook_path or "",
        }
        if rest in values:
            return values[rest]
        raise UnresolvedReference(f"unknown reference {{{{task.{'.'.join(rest)}}}}}")

    def _tasks(self, key: str, rest: tuple[str, ...]) -> str:
        found = run_store.current_task_runs(self.conn, self.run.run_id, [key])
        if not found:
            raise UnresolvedReference(f"{{{{tasks.{key}...}}}}: no task named {key!r} in this run")
        tr = found[0]
        if rest == ("run_id",):
            return str(tr.task_run_id)
        if rest == ("result_state",):
            return tr.result.value.lower() if tr.result else ""
        if rest == ("error_code",):
            return tr.error_code or ""
        if rest == ("execution_count",):
            return str(run_store.execution_count(self.conn, self.run.run_id, key))
        if len(rest) == 2 and rest[0] == "values":
            if rest[1] not in tr.task_values:
                raise UnresolvedReference(
                    f"{{{{tasks.{key}.values.{rest[1]}}}}}: task {key!r} set no value "
                    f"named {rest[1]!r} (it has: {', '.join(sorted(tr.task_values)) or 'none'})"
                )
            return as_text(tr.task_values[rest[1]])
        raise UnresolvedReference(f"unknown reference {{{{tasks.{key}.{'.'.join(rest)}}}}}")

    def _input(self, rest: tuple[str, ...]) -> str:
        value = self.input
        for part in rest:
            if isinstance(value, dict) and part in value:
                value = value[part]
            else:
                raise UnresolvedReference(f"the for_each input has no field {'.'.join(rest)!r}")
        return as_text(value)


def _time_arg(moment: datetime, arg: str) -> str:
    fields = time_fields(moment)
    if arg not in fields:
        raise UnresolvedReference(f"unknown time argument {arg!r}")
    return fields[arg]


def render_deep(value: Any, resolve: Callable[[tuple[str, ...]], str]) -> Any:
    """Render every string inside a JSON-like value."""
    if isinstance(value, str):
        return render(value, resolve) if "{{" in value else value
    if isinstance(value, list):
        return [render_deep(v, resolve) for v in value]
    if isinstance(value, dict):
        return {k: render_deep(v, resolve) for k, v in value.items()}
    return value
