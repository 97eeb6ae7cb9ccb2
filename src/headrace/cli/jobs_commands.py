"""`headrace jobs list | history`: stored jobs and their versions, read from the store.

Every jobs/create, update and reset stores the job's full settings as a new version
(`engine.jobs`); `history` lists them and `--diff A B` shows what changed as a unified
diff of the two versions' settings in YAML.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from headrace.config import Settings
from headrace.errors import NotFound
from headrace.store import jobs as job_store
from headrace.store.db import Store


def list_jobs(settings: Settings, store: Store, *, as_json: bool) -> None:
    with store.read() as conn:
        jobs = job_store.all_jobs(conn)
        latest = {j.job_id: job_store.latest_version(conn, j.job_id) for j in jobs}
    rows = [
        {
            "job_id": j.job_id,
            "name": j.name,
            "creator_user_name": j.creator_user_name,
            "created_time": j.created_time,
            "latest_version": latest[j.job_id],
            "source": j.source,
        }
        for j in jobs
    ]
    if as_json:
        sys.stdout.write(json.dumps({"jobs": rows}, indent=2) + "\n")
        return
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table()
    for col in ("job_id", "name", "creator", "version", "tasks", "created"):
        table.add_column(col)
    for j in jobs:
        table.add_row(
            str(j.job_id),
            escape(j.name),
            escape(j.creator_user_name or (f"(headrace run {j.source})" if j.source else "")),
            str(latest[j.job_id] or "-"),
            str(len(j.settings.get("tasks") or [])),
            _when(j.created_time),
        )
    Console().print(table)


def job_history(
    settings: Settings,
    store: Store,
    job_id: int,
    *,
    diff: tuple[int, int] | None,
    as_json: bool,
) -> None:
    """Print a job's versions, or the diff of two of them. Raises: NotFound."""
    with store.read() as conn:
        job = job_store.get_job(conn, job_id)
        versions = job_store.versions(conn, job_id)
    if diff is not None:
        sys.stdout.write(settings_diff(job_id, versions, *diff))
        return
    if as_json:
        sys.stdout.write(json.dumps({"job_id": job_id, "versions": versions}, indent=2) + "\n")
        return
    if not versions:
        where = f" (stored by `headrace run {job.source}`)" if job.source else ""
        print(f"job {job_id} {job.name!r} has no recorded versions{where}", file=sys.stderr)
        return
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"job {job_id}: {escape(job.name)}")
    for col in ("version", "time", "by", "summary", "changed"):
        table.add_column(col)
    previous: dict[str, Any] | None = None
    for v in versions:
        table.add_row(
            str(v["version"]),
            _when(v["created_time"]),
            escape(v["created_by"] or ""),
            escape(summary(v["settings"])),
            escape(changed_fields(previous, v["settings"])),
        )
        previous = v["settings"]
    Console().print(table)


def summary(settings: dict[str, Any]) -> str:
    """One line about a version: its name, task count and what starts it."""
    tasks = settings.get("tasks") or []
    parts = [
        str(settings.get("name", "Untitled")),
        f"{len(tasks)} task{'s' if len(tasks) != 1 else ''}",
    ]
    schedule = settings.get("schedule")
    if isinstance(schedule, dict) and schedule.get("quartz_cron_expression"):
        paused = " (paused)" if schedule.get("pause_status") == "PAUSED" else ""
        parts.append(f"cron {schedule['quartz_cron_expression']}{paused}")
    trigger = settings.get("trigger")
    if isinstance(trigger, dict):
        kinds = [k for k in trigger if k not in ("pause_status",)]
        if kinds:
            parts.append(f"trigger {', '.join(kinds)}")
    if settings.get("continuous"):
        parts.append("continuous")
    return ", ".join(parts)


def changed_fields(old: dict[str, Any] | None, new: dict[str, Any]) -> str:
    """Which top-level settings differ from the previous version ("created" for the first)."""
    if old is None:
        return "created"
    keys = sorted(set(old) | set(new))
    changed = [k for k in keys if old.get(k) != new.get(k)]
    return ", ".join(changed) if changed else "(no change)"


def settings_diff(job_id: int, versions: list[dict[str, Any]], a: int, b: int) -> str:
    """A unified diff of two versions' settings as YAML. Raises: NotFound."""
    import difflib

    by_number = {v["version"]: v for v in versions}
    for number in (a, b):
        if number not in by_number:
            have = (
                f"versions {versions[0]['version']}-{versions[-1]['version']}"
                if versions
                else "no recorded versions"
            )
            raise NotFound(f"job {job_id} has no version {number} (it has {have})")
    old, new = _yaml(by_number[a]["settings"]), _yaml(by_number[b]["settings"])
    lines = difflib.unified_diff(
        old.splitlines(keepends=True),
        new.splitlines(keepends=True),
        fromfile=f"job {job_id} version {a}",
        tofile=f"job {job_id} version {b}",
    )
    return "".join(lines)


def _yaml(settings: dict[str, Any]) -> str:
    import yaml

    return yaml.safe_dump(settings, sort_keys=False, allow_unicode=True)


def _when(ms: int) -> str:
    from datetime import datetime

    return datetime.fromtimestamp(ms / 1000).strftime("%Y-%m-%d %H:%M:%S")
