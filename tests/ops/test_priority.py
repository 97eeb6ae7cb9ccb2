"""Priorities (issue 16): job- and task-level `priority` order workers' claims, with aging."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from headrace.config import database_url
from headrace.engine import coordinator as coordinator_module
from headrace.engine.coordinator import Coordinator
from headrace.spec.loader import parse_job_settings
from headrace.store import jobs as job_store
from headrace.store.db import Store, open_store
from headrace.store.runs import PRIORITY_AGING_MS
from pg_support import pg_base_url, with_search_path
from support import Headrace

JOB = """
name: ranked
priority: 3
tasks:
  - task_key: low
    priority: -5
    shell_command_task: {command: "echo low >> order.txt"}
  - task_key: plain
    shell_command_task: {command: "echo plain >> order.txt"}
  - task_key: high
    priority: 10
    shell_command_task: {command: "echo high >> order.txt"}
  - task_key: after
    depends_on: [{task_key: low}, {task_key: plain}, {task_key: high}]
    shell_command_task: {command: "echo after >> order.txt"}
"""


def test_one_slot_runs_tasks_by_priority(hr: Headrace) -> None:
    job = hr.write("job.yml", JOB)
    done = hr("run", job, "--slots", "1", "-q")
    assert done.returncode == 0, str(done)
    order = (hr.dir / "order.txt").read_text().split()
    assert order == ["high", "plain", "low", "after"]  # plain has the job's priority, 3


def test_out_of_range_priority_is_refused(hr: Headrace) -> None:
    job = hr.write("job.yml", JOB.replace("priority: 10", "priority: 1000"))
    bad = hr("validate", job)
    assert bad.returncode == 2 and "tasks[2].priority" in bad.stderr, str(bad)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        url = database_url(str(tmp_path / "headrace.db"), tmp_path)
    else:
        url = with_search_path(pg_base_url(), request.getfixturevalue("pg_schema"))
    opened = open_store(url)
    try:
        yield opened
    finally:
        opened.dispose()


def _job(store: Store, name: str, priority: int) -> tuple[int, object]:
    data = {
        "name": name,
        "priority": priority,
        "tasks": [{"task_key": "t", "shell_command_task": {"command": "true"}}],
    }
    with store.begin() as conn:
        job_id = job_store.create_job(conn, data, now_ms=0)
    return job_id, parse_job_settings(data)


@pytest.mark.parametrize(("waited_minutes", "first"), [(4, "urgent"), (6, "patient")])
def test_waiting_ages_a_low_priority_past_newer_high_ones(
    store: Store, monkeypatch: pytest.MonkeyPatch, waited_minutes: int, first: str
) -> None:
    clock = [1_800_000_000_000]
    monkeypatch.setattr(coordinator_module, "now_ms", lambda: clock[0])
    coordinator = Coordinator(store, coordinator_id="prio")
    patient_id, patient = _job(store, "patient", 0)
    urgent_id, urgent = _job(store, "urgent", 5)
    coordinator.start_run(patient, job_id=patient_id)
    clock[0] += waited_minutes * 60_000  # priority 5 is worth 5 minutes of waiting
    coordinator.start_run(urgent, job_id=urgent_id)
    claimed = coordinator.claim_next_attempt("w1", lambda _a: "/dev/null")
    assert claimed is not None
    names = {patient_id: "patient", urgent_id: "urgent"}
    assert names[claimed.payload["job_id"]] == first
    assert PRIORITY_AGING_MS == 60_000
