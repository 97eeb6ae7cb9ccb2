"""`headrace runs list | get | logs`: read the store, print for people or as JSON."""

from __future__ import annotations

import json
import sys
from typing import Any

from headrace.config import Settings
from headrace.engine.coordinator import Coordinator, now_ms
from headrace.engine.run_view import base_run_to_api, run_to_api
from headrace.errors import NotFound, SpecError
from headrace.store import runs as run_store
from headrace.store.db import Store
from headrace.worker.recovery import recover_lost_runs


def _recover(settings: Settings, store: Store) -> None:
    # Any command on the store notices runs whose process died (issue #2: no run stays RUNNING).
    recover_lost_runs(Coordinator(store), lease_seconds=settings.lease_seconds)


def list_runs(
    settings: Settings,
    store: Store,
    *,
    job_id: int | None,
    limit: int,
    active_only: bool,
    as_json: bool,
) -> None:
    _recover(settings, store)
    with store.read() as conn:
        runs = run_store.list_runs(conn, job_id=job_id, limit=limit, active_only=active_only)
    if as_json:
        items = [base_run_to_api(r) for r in runs]
        sys.stdout.write(json.dumps({"runs": items}, indent=2) + "\n")
        return
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from headrace.cli.progress import label

    table = Table()
    for col in ("run_id", "job", "state", "started", "duration", "repairs"):
        table.add_column(col)
    now = now_ms()
    for r in runs:
        text, style = label(r.life_cycle.value, r.result.value if r.result else None)
        started = _when(r.start_time)
        duration = f"{((r.end_time or now) - r.start_time) / 1000:.1f}s"
        table.add_row(
            str(r.run_id),
            escape(r.run_name),
            f"[{style}]{text}[/]" if style else text,
            started,
            duration,
            str(r.repair_count),
        )
    Console().print(table)


def _when(ms: int) -> str:
    from datetime import datetime

    return datetime.fromtimestamp(ms / 1000).strftime("%Y-%m-%d %H:%M:%S")


def get_run(settings: Settings, store: Store, run_id: int, *, as_json: bool) -> None:
    _recover(settings, store)
    with store.read() as conn:
        data = run_to_api(conn, run_id, now=now_ms())
    if as_json:
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
        return
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from headrace.cli.progress import label

    console = Console()
    state = data["state"]
    text, style = label(state["life_cycle_state"], state.get("result_state"))
    console.print(
        f"[bold]run {data['run_id']}[/] {escape(data['run_name'])} (job {data['job_id']}): [{style or 'bold'}]{text}[/]"
    )
    if state.get("state_message"):
        console.print(f"  {escape(state['state_message'])}")
    if data["job_parameters"]:
        console.print(
            "  parameters: "
            + escape(", ".join(f"{p['name']}={p['value']}" for p in data["job_parameters"]))
        )
    table = Table()
    for col in ("task", "task run", "state", "attempts", "duration", "message"):
        table.add_column(col)
    for t in data["tasks"]:
        s = t["state"]
        text, style = label(s["life_cycle_state"], s.get("result_state"))
        table.add_row(
            t["task_key"],
            str(t["run_id"]),
            f"[{style}]{text}[/]" if style else text,
            str(len(t.get("attempts", []))),
            f"{t['run_duration'] / 1000:.1f}s",
            escape((s.get("state_message") or "")[:120]),
        )
    console.print(table)
    if data.get("repair_count"):
        console.print(f"  repaired {data['repair_count']} time(s)")


def find_task(store: Store, run_id: int, task_key: str) -> dict[str, Any]:
    """A task of a run as the Jobs API shows it; `KEY[N]` names a for_each iteration.

    Raises: NotFound (no such task or iteration), SpecError (a malformed `KEY[N]`)."""
    with store.read() as conn:
        data = run_to_api(conn, run_id, now=now_ms(), include_history=False)
    base, _, rest = task_key.partition("[")
    task = next((t for t in data["tasks"] if t["task_key"] == base), None)
    if task is None:
        keys = ", ".join(t["task_key"] for t in data["tasks"])
        raise NotFound(f"run {run_id} has no task {base!r} (tasks: {keys})")
    if rest:
        if not rest.endswith("]") or not rest[:-1].isdigit():
            raise SpecError(f"task {task_key!r}: write an iteration as KEY[N], e.g. {base}[0]")
        index = int(rest[:-1])
        task = next((i for i in task.get("iterations", []) if i.get("iteration") == index), None)
        if task is None:
            raise NotFound(f"task {base!r} has no iteration {index}")
    return task


def print_logs(
    settings: Settings, store: Store, run_id: int, task_key: str, attempt: int | None
) -> None:
    task = find_task(store, run_id, task_key)
    attempts = task.get("attempts", [])
    if not attempts:
        raise NotFound(f"task {task_key!r} of run {run_id} has not run, so it has no log")
    chosen = (
        attempts[-1]
        if attempt is None
        else next((a for a in attempts if a["attempt_number"] == attempt), None)
    )
    if chosen is None:
        numbers = ", ".join(str(a["attempt_number"]) for a in attempts)
        raise NotFound(f"task {task_key!r} has no attempt {attempt} (attempts: {numbers})")
    from headrace.engine.logs import read_log

    path = chosen.get("log_path")
    data = read_log(store, path)
    if data is None:
        raise NotFound(f"the log of attempt {chosen['attempt_number']} is missing ({path})")
    sys.stdout.buffer.write(data)
