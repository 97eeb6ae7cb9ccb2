"""What a notification says: job, run, result, failed tasks with their first error line,
duration and a link to the run page, as plain text, HTML and a JSON-able summary.

Composed at delivery time from the store (the run's name, tasks and times) plus the facts the
outbox row recorded at the event (result, message, attempt), so a late delivery still tells
what happened at the event, not what the run looks like now.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

from headrace.states import SUCCESSFUL, TERMINAL
from headrace.store import runs as run_store
from headrace.store.notifications import Notification
from headrace.store.sql import Tx as Connection

_EVENT_WORDS = {
    "on_start": "started",
    "on_success": "succeeded",
    "on_failure": "failed",
    "on_duration_warning_threshold_exceeded": "is running longer than expected",
}
MAX_FAILED_TASKS = 20  # a 500-task fan-out must not make a 500-line mail


@dataclass(frozen=True)
class FailedTask:
    """A task that did not succeed, with the first line of why."""

    task_key: str
    result: str
    error: str


@dataclass(frozen=True)
class Message:
    """One notification, ready for any channel."""

    event: str  # on_start, on_success, on_failure, on_duration_warning_threshold_exceeded
    subject: str
    job_id: int | None
    job_name: str
    run_id: int
    run_url: str
    result: str | None
    message: str
    duration_seconds: float | None
    task_key: str | None = None
    failed_tasks: list[FailedTask] = field(default_factory=list)
    threshold_seconds: int | None = None

    @property
    def severity(self) -> str:
        """PagerDuty-style severity: error, warning or info."""
        if self.event == "on_failure":
            return "error"
        if self.event == "on_duration_warning_threshold_exceeded":
            return "warning"
        return "info"

    def text(self) -> str:
        """The plain-text body."""
        lines = [self.subject, ""]
        lines.append(f"Job: {self.job_name}" + (f" (job {self.job_id})" if self.job_id else ""))
        lines.append(f"Run: {self.run_id}")
        if self.task_key:
            lines.append(f"Task: {self.task_key}")
        if self.result:
            lines.append(f"Result: {self.result}")
        if self.duration_seconds is not None:
            lines.append(f"Duration: {format_duration(self.duration_seconds)}")
        if self.threshold_seconds is not None:
            lines.append(f"Threshold: {format_duration(self.threshold_seconds)}")
        if self.message:
            lines.append(f"Message: {first_line(self.message)}")
        if self.failed_tasks:
            lines += ["", "Failed tasks:"]
            lines += [f"  - {t.task_key} ({t.result}): {t.error}" for t in self.failed_tasks]
        lines += ["", f"Run page: {self.run_url}"]
        return "\n".join(lines) + "\n"

    def html(self) -> str:
        """The HTML body (inline styles only: mail clients drop style sheets)."""
        e = html.escape
        rows = [("Job", self.job_name), ("Run", str(self.run_id))]
        if self.task_key:
            rows.append(("Task", self.task_key))
        if self.result:
            rows.append(("Result", self.result))
        if self.duration_seconds is not None:
            rows.append(("Duration", format_duration(self.duration_seconds)))
        if self.threshold_seconds is not None:
            rows.append(("Threshold", format_duration(self.threshold_seconds)))
        if self.message:
            rows.append(("Message", first_line(self.message)))
        table = "".join(
            f'<tr><th style="text-align:left;padding-right:1em">{e(k)}</th><td>{e(v)}</td></tr>'
            for k, v in rows
        )
        failed = ""
        if self.failed_tasks:
            items = "".join(
                f"<li><b>{e(t.task_key)}</b> ({e(t.result)}): <code>{e(t.error)}</code></li>"
                for t in self.failed_tasks
            )
            failed = f"<h3>Failed tasks</h3><ul>{items}</ul>"
        return (
            f"<html><body><h2>{e(self.subject)}</h2><table>{table}</table>{failed}"
            f'<p><a href="{e(self.run_url)}">Open the run page</a></p></body></html>'
        )

    def summary(self) -> dict[str, Any]:
        """The facts as JSON, for webhooks."""
        return {
            "event": self.event,
            "subject": self.subject,
            "job": {"job_id": self.job_id, "name": self.job_name},
            "run": {"run_id": self.run_id, "run_page_url": self.run_url},
            "task": {"task_key": self.task_key} if self.task_key else None,
            "result_state": self.result,
            "message": self.message,
            "duration_seconds": self.duration_seconds,
            "threshold_seconds": self.threshold_seconds,
            "failed_tasks": [t.__dict__ for t in self.failed_tasks],
        }


def first_line(text: str) -> str:
    """The first non-empty line of `text`, shortened to a readable length."""
    for line in text.splitlines():
        if line.strip():
            return line.strip()[:300]
    return ""


def format_duration(seconds: float) -> str:
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes}m {secs}s"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{seconds:.1f}s"


def compose(conn: Connection, n: Notification, public_url: str) -> Message:
    """The message of an outbox row, from the row's facts and the run in the store."""
    run = run_store.get_run(conn, n.run_id)
    facts = n.facts
    at = int(facts.get("at") or run.end_time or run.start_time)
    result = facts.get("result")
    task_key = n.task_key
    if n.task_run_id is not None:
        tr = run_store.task_run(conn, n.task_run_id)
        started = tr.start_time or at
        failed: list[FailedTask] = []
    else:
        started = run.start_time
        ended_badly = n.event == "on_failure" or result == "SUCCESS_WITH_FAILURES"
        failed = _failed_tasks(conn, n.run_id) if ended_badly else []
    ended = n.event in ("on_success", "on_failure")
    duration = (at - started) / 1000 if ended or n.event.startswith("on_duration") else None
    what = f"task {task_key} of " if task_key else ""
    words = _EVENT_WORDS.get(n.event, n.event)
    if n.event == "on_failure" and result and result != "FAILED":
        words = f"ended {result}"
    elif result == "SUCCESS_WITH_FAILURES":
        words = "succeeded with failures"
    attempt = facts.get("attempt_number")
    retry = f" (attempt {attempt + 1})" if task_key and attempt else ""
    subject = f"[Headrace] {what}{run.run_name} run {run.run_id} {words}{retry}"
    return Message(
        event=n.event,
        subject=subject,
        job_id=run.job_id,
        job_name=run.run_name,
        run_id=run.run_id,
        run_url=f"{public_url.rstrip('/')}/runs/{run.run_id}",
        result=result,
        message=str(facts.get("message") or ""),
        duration_seconds=duration,
        task_key=task_key,
        failed_tasks=failed,
        threshold_seconds=facts.get("threshold_seconds"),
    )


def _failed_tasks(conn: Connection, run_id: int) -> list[FailedTask]:
    out = []
    for tr in run_store.current_task_runs(conn, run_id):
        if tr.life_cycle in TERMINAL and tr.result is not None and tr.result not in SUCCESSFUL:
            if tr.result.value in ("EXCLUDED", "DISABLED"):
                continue
            out.append(FailedTask(tr.task_key, tr.result.value, first_line(tr.state_message)))
    return out[:MAX_FAILED_TASKS]
