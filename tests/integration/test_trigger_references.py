"""`{{job.trigger.*}}` for each trigger kind, through the TriggerLoop on a real store: the type
Databricks documents (lower case), the trigger's own fields, empty where a kind has none; and a
table_update trigger firing from the DuckDB change log."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from headrace.engine.coordinator import Coordinator
from headrace.engine.triggers import TriggerLoop
from headrace.store.db import Store
from headrace.warehouse.changes import record

from .conftest import Clock
from .helpers import claim, finish, shell
from .test_triggers import make_job, runs_of

SECOND = 1000
REFS = (
    "{{job.trigger.type}}|{{job.trigger.file_arrival.location}}|"
    "{{job.trigger.table_update.updated_tables}}|{{job.trigger.table_update.main.s.t.version}}"
)


def job_with(store: Store, at: int, **trigger: Any) -> int:
    task = shell("t")
    task["shell_command_task"]["command"] = REFS
    return make_job(store, at, tasks=[task], **trigger)


def fired_command(coordinator: Coordinator) -> list[str]:
    attempt = claim(coordinator)
    assert attempt is not None, "the trigger started no run"
    finish(coordinator, attempt)
    return str(attempt.payload["settings"]["command"]).split("|")


def test_trigger_references_of_a_continuous_run(
    store: Store, coordinator: Coordinator, clock: Clock
) -> None:
    job_with(store, clock.now, continuous={"pause_status": "UNPAUSED"})
    TriggerLoop(store, coordinator).tick(clock.now + 1)
    assert fired_command(coordinator) == ["continuous", "", "[]", ""]


def test_a_table_update_run_sees_the_tables_and_versions(
    store: Store, coordinator: Coordinator, clock: Clock, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    record(home / "warehouse", ["main.s.t"], clock.now - SECOND)  # before the job: seen
    job_id = job_with(
        store,
        clock.now,
        trigger={"table_update": {"table_names": ["main.s.t", "other"]}},
    )
    loop = TriggerLoop(store, coordinator, home=home)
    assert loop.tick(clock.now + 10) == clock.now + 10 + SECOND
    assert runs_of(store, job_id) == []
    record(home / "warehouse", ["main.s.t"], clock.now + 2 * SECOND)
    loop.tick(clock.now + 3 * SECOND)
    [run] = runs_of(store, job_id)
    assert run.trigger_type == "TABLE"
    assert run.trigger_info is not None
    info = run.trigger_info["table_update"]
    assert info["updated_tables"] == ["main.s.t"]
    assert info["tables"]["main.s.t"] == {"version": 2, "commit_timestamp": clock.now + 2 * SECOND}
    assert info["tables"]["other"] == {"version": None, "commit_timestamp": None}
    kind, location, updated, version = fired_command(coordinator)
    assert (kind, location, json.loads(updated), version) == ("table", "", ["main.s.t"], "2")
    # Nothing new: no second run, however often it looks.
    for i in range(4, 8):
        loop.tick(clock.now + i * SECOND)
    assert len(runs_of(store, job_id)) == 1
