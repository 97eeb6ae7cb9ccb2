"""Live progress of a run in the terminal (Rich), and the summary printed at its end."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from headrace.store import runs as run_store
from headrace.store.db import Store

# Status words with a symbol, so the state reads without colour too.
STYLE = {
    "SUCCESS": ("✔ success", "green"),
    "FAILED": ("✘ failed", "red"),
    "TIMEDOUT": ("⏱ timed out", "red"),
    "CANCELED": ("■ canceled", "yellow"),
    "EXCLUDED": ("⤼ excluded", "dim"),
    "UPSTREAM_FAILED": ("↯ upstream failed", "red"),
    "UPSTREAM_CANCELED": ("↯ upstream canceled", "yellow"),
    "DISABLED": ("○ disabled", "dim"),
    "SUCCESS_WITH_FAILURES": ("✔ success with failures", "yellow"),
    "RUNNING": ("▶ running", "cyan"),
    "PENDING": ("… pending", "blue"),
    "BLOCKED": ("· blocked", "dim"),
    "WAITING_FOR_RETRY": ("↻ waiting to retry", "magenta"),
    "QUEUED": ("… queued", "blue"),
    "MAXIMUM_CONCURRENT_RUNS_REACHED": ("⊘ skipped: max concurrent runs", "yellow"),
}
_MIN_INTERVAL = 0.1
MAX_ROWS = 30
_WORTH_SHOWING = {"RUNNING", "PENDING", "WAITING_FOR_RETRY", "FAILED", "TIMEDOUT", "CANCELED"}


def _interesting(tr: Any) -> bool:
    return (tr.result.value if tr.result else tr.life_cycle.value) in _WORTH_SHOWING


def label(life: str, result: str | None) -> tuple[str, str]:
    return STYLE.get(result or life, (life.lower(), ""))


class Progress:
    """Redraws a table of task states as events arrive (at most ten times a second)."""

    def __init__(self, store: Store, run_id: int, *, enabled: bool, logs_dir: Path) -> None:
        self.store = store
        self.run_id = run_id
        self.enabled = enabled
        self.logs_dir = logs_dir
        self._live: Any = None
        self._last = 0.0
        self._seen: dict[str, str] = {}
        self._tty = sys.stdout.isatty()

    def __enter__(self) -> Progress:
        if self.enabled and self._tty:
            from rich.live import Live

            self._live = Live(auto_refresh=False, transient=False)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            self.update(force=True)
        if self._live is not None:
            self._live.__exit__(*exc)

    def update(self, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._last < _MIN_INTERVAL:
            return
        self._last = now
        with self.store.read() as conn:
            run = run_store.get_run(conn, self.run_id)
            tasks = run_store.current_task_runs(conn, self.run_id)
        if self._live is not None:
            self._live.update(self._table(run, tasks), refresh=True)
        else:
            self._print_changes(run, tasks)

    def _table(self, run: Any, tasks: list[Any]) -> Any:
        from rich.table import Table

        now_ms = int(time.time() * 1000)
        title = f"run {run.run_id} · {run.run_name} · {label(run.life_cycle.value, run.result.value if run.result else None)[0]}"
        table = Table(title=title, title_justify="left", expand=False)
        table.add_column("task")
        table.add_column("state")
        table.add_column("attempt", justify="right")
        table.add_column("duration", justify="right")
        shown = tasks
        if len(tasks) > MAX_ROWS:
            # Big DAGs: counts by state, then the tasks worth looking at (active or failed).
            counts: dict[str, int] = {}
            for tr in tasks:
                name = label(tr.life_cycle.value, tr.result.value if tr.result else None)[0]
                counts[name] = counts.get(name, 0) + 1
            table.caption = " · ".join(f"{n} {name}" for name, n in counts.items())
            interesting = [tr for tr in tasks if _interesting(tr)]
            shown = interesting[:MAX_ROWS]
        for tr in shown:
            text, style = label(tr.life_cycle.value, tr.result.value if tr.result else None)
            duration = ""
            if tr.start_time:
                duration = f"{((tr.end_time or now_ms) - tr.start_time) / 1000:.1f}s"
            attempt = str(tr.attempt_number + 1) if tr.start_time else ""
            table.add_row(tr.task_key, f"[{style}]{text}[/]" if style else text, attempt, duration)
        return table

    def _print_changes(self, run: Any, tasks: list[Any]) -> None:
        if run.life_cycle.value == "QUEUED" and self._seen.get("") != "QUEUED":
            self._seen[""] = "QUEUED"
            print(f"run {run.run_id} queued: {run.state_message}", flush=True)
        for tr in tasks:
            state = tr.result.value if tr.result else tr.life_cycle.value
            if self._seen.get(tr.task_key) != state and state not in ("BLOCKED",):
                self._seen[tr.task_key] = state
                print(f"{tr.task_key}: {label(tr.life_cycle.value, state)[0]}", flush=True)

    def summary(self, run: dict[str, Any]) -> None:
        """The closing table: result, duration, and the failed tasks' errors and logs."""
        from rich.console import Console
        from rich.markup import escape
        from rich.table import Table

        console = Console()
        state = run["state"]
        result = state.get("result_state", state["life_cycle_state"])
        text, style = label(state["life_cycle_state"], result)
        seconds = run["run_duration"] / 1000
        console.print(
            f"[bold]run {run['run_id']}[/] {escape(run['run_name'])}: [{style or 'bold'}]{text}[/] in {seconds:.2f}s"
        )
        if state.get("state_message"):
            console.print(f"  {escape(state['state_message'])}")
        failed = [
            t
            for t in run["tasks"]
            if t["state"].get("result_state") in ("FAILED", "TIMEDOUT", "CANCELED")
        ]
        if not failed:
            return
        table = Table(title="tasks that did not succeed", title_justify="left")
        table.add_column("task")
        table.add_column("result")
        table.add_column("error")
        table.add_column("log")
        for t in failed:
            table.add_row(
                t["task_key"],
                t["state"]["result_state"],
                escape((t["state"].get("state_message") or "")[:200]),
                escape(t.get("log_path") or ""),
            )
        console.print(table)
