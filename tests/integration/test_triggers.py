"""TriggerLoop against a real store and coordinator: cron ticks exactly once across restarts,
a dropped file starts one run that sees its location, continuous jobs restart."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from headrace.engine.coordinator import Coordinator
from headrace.engine.run_plan import settings_to_json
from headrace.engine.triggers import TriggerLoop
from headrace.spec.loader import parse_job_settings
from headrace.states import LifeCycle, Result
from headrace.store import jobs as job_store
from headrace.store import runs as run_store
from headrace.store.db import Store
from headrace.store.records import Run

from .conftest import Clock
from .helpers import claim, finish, shell

SECOND = 1000


def ms(*args: int) -> int:
    moment = datetime(*args, tzinfo=UTC)  # type: ignore[misc]
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)


def make_job(store: Store, at: int, **settings: Any) -> int:
    """Store a job as jobs/create does (validated settings, version 1), saved at `at`."""
    body = {"name": "triggered", "tasks": [shell("t")], **settings}
    data = json.loads(settings_to_json(parse_job_settings(body)))
    with store.begin() as conn:
        job_id = job_store.create_job(conn, data, now_ms=at, creator="alice")
        job_store.add_version(conn, job_id, data, by="alice", now_ms=at)
    return job_id


def runs_of(store: Store, job_id: int) -> list[Run]:
    """A job's runs, oldest first."""
    with store.read() as conn:
        return list(reversed(run_store.list_runs(conn, job_id=job_id, limit=100)))


def end_run(coordinator: Coordinator, result: Result = Result.SUCCESS) -> None:
    """Act as a worker: finish every claimable attempt with `result`."""
    while (attempt := claim(coordinator)) is not None:
        finish(coordinator, attempt, result)


# --- cron --------------------------------------------------------------------------------------


def test_cron_fires_once_per_due_tick_and_never_twice_across_a_restart(
    store: Store, coordinator: Coordinator, clock: Clock
) -> None:
    clock.now = ms(2024, 1, 1, 0, 30)
    job_id = make_job(
        store,
        clock.now,
        schedule={"quartz_cron_expression": "0 0 * * * ?", "timezone_id": "UTC"},
        max_concurrent_runs=5,
    )
    first = TriggerLoop(store, coordinator)
    assert first.tick(clock.now) == ms(2024, 1, 1, 1)
    assert runs_of(store, job_id) == []

    clock.now = ms(2024, 1, 1, 1, 0, 0) + 7
    first.tick(clock.now)
    runs = runs_of(store, job_id)
    assert len(runs) == 1
    run = runs[0]
    assert run.trigger_type == "PERIODIC"
    assert run.run_type == "JOB_RUN"
    assert run.run_as == "alice"
    assert run.job_version == 1
    assert run.trigger_info is not None
    assert run.trigger_info["scheduled_time"] == ms(2024, 1, 1, 1)
    assert run.trigger_info["schedule"] == {
        "quartz_cron_expression": "0 0 * * * ?",
        "timezone_id": "UTC",
    }
    assert first.tick(clock.now + SECOND) == ms(2024, 1, 1, 2)
    assert len(runs_of(store, job_id)) == 1

    # A restart: a new loop (nothing in memory) looks at the same moment: no second run.
    restarted = TriggerLoop(store, coordinator)
    assert restarted.tick(clock.now + 2 * SECOND) == ms(2024, 1, 1, 2)
    assert len(runs_of(store, job_id)) == 1

    # Down from 01:00:03 to 04:30: 02:00, 03:00 and 04:00 were missed -> one catch-up run.
    clock.now = ms(2024, 1, 1, 4, 30)
    again = TriggerLoop(store, coordinator)
    assert again.tick(clock.now) == ms(2024, 1, 1, 5)
    runs = runs_of(store, job_id)
    assert len(runs) == 2
    assert runs[1].trigger_info is not None
    assert runs[1].trigger_info["scheduled_time"] == ms(2024, 1, 1, 4)
    assert runs[1].trigger_info["missed_fire_times_since"] == ms(2024, 1, 1, 2)
    again.tick(clock.now + SECOND)
    TriggerLoop(store, coordinator).tick(clock.now + 2 * SECOND)
    assert len(runs_of(store, job_id)) == 2


def test_a_tick_whose_run_could_not_be_created_is_not_lost(
    store: Store, coordinator: Coordinator, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock.now = ms(2024, 1, 1, 0, 59)
    job_id = make_job(
        store, clock.now, schedule={"quartz_cron_expression": "0 0 * * * ?", "timezone_id": "UTC"}
    )
    loop = TriggerLoop(store, coordinator)
    loop.tick(clock.now)
    real = run_store.insert_runs_and_task_runs

    def crash(*args: Any, **kw: Any) -> None:
        real(*args, **kw)  # the runs and task runs are written, then the process dies
        raise RuntimeError("the process died mid-transaction")

    monkeypatch.setattr(run_store, "insert_runs_and_task_runs", crash)
    clock.now = ms(2024, 1, 1, 1, 0, 1)
    loop.tick(clock.now)  # the loop logs the failure; the transaction rolled back
    assert runs_of(store, job_id) == []
    with store.read() as conn:
        assert job_store.get_trigger_state(conn, job_id)["cursor"] < ms(2024, 1, 1, 1)

    monkeypatch.setattr(run_store, "insert_runs_and_task_runs", real)
    TriggerLoop(store, coordinator).tick(clock.now + SECOND)
    runs = runs_of(store, job_id)
    assert len(runs) == 1
    assert runs[0].trigger_info is not None
    assert runs[0].trigger_info["scheduled_time"] == ms(2024, 1, 1, 1)


def test_a_loop_that_loses_a_race_starts_nothing_and_leaves_the_coordinator_sound(
    store: Store, coordinator: Coordinator, clock: Clock
) -> None:
    clock.now = ms(2024, 1, 1, 0, 59)
    schedule = {"quartz_cron_expression": "0 0 * * * ?", "timezone_id": "UTC"}
    raced_job = make_job(store, clock.now, schedule=schedule)

    class Interleaved(TriggerLoop):
        """Another writer stores the job's trigger state between decision and commit."""

        raced = False

        def _decide(self, *args: Any, **kw: Any) -> Any:
            decision = super()._decide(*args, **kw)
            if decision.fire is not None and not self.raced:
                self.raced = True
                with self.store.begin() as conn:
                    state = job_store.get_trigger_state(conn, raced_job)
                    state["seq"] = state.get("seq", 0) + 1
                    job_store.put_trigger_state(conn, raced_job, state, clock.now)
            return decision

    loop = Interleaved(store, coordinator)
    loop.tick(clock.now)
    clock.now = ms(2024, 1, 1, 1, 0, 1)
    assert loop.tick(clock.now) == clock.now  # lost the race: look again at once
    assert runs_of(store, raced_job) == []

    # The rolled-back run's id goes to the next run, which must run its own tasks.
    other = make_job(store, clock.now, tasks=[shell("other")])
    with store.read() as conn:
        settings = parse_job_settings(job_store.get_job(conn, other).settings)
    other_run = coordinator.start_run(settings, job_id=other)
    with store.read() as conn:
        keys = [tr.task_key for tr in run_store.current_task_runs(conn, other_run)]
    assert keys == ["other"]

    loop.tick(clock.now + SECOND)  # decides again on the stored state: the tick is still owed
    runs = runs_of(store, raced_job)
    assert len(runs) == 1
    assert runs[0].trigger_info is not None
    assert runs[0].trigger_info["scheduled_time"] == ms(2024, 1, 1, 1)


def test_paused_schedule_never_fires(store: Store, coordinator: Coordinator, clock: Clock) -> None:
    clock.now = ms(2024, 1, 1, 0, 30)
    schedule = {
        "quartz_cron_expression": "0 * * * * ?",
        "timezone_id": "UTC",
        "pause_status": "PAUSED",
    }
    job_id = make_job(store, clock.now, schedule=schedule)
    loop = TriggerLoop(store, coordinator)
    for minute in range(5):
        assert loop.tick(clock.now + minute * 60 * SECOND) is None
    assert runs_of(store, job_id) == []


def test_periodic_trigger_fires_at_enablement_then_each_interval(
    store: Store, coordinator: Coordinator, clock: Clock
) -> None:
    clock.now = ms(2024, 1, 1, 10)
    job_id = make_job(
        store,
        clock.now,
        trigger={"periodic": {"interval": 1, "unit": "HOURS"}},
        max_concurrent_runs=3,
    )
    loop = TriggerLoop(store, coordinator)
    assert loop.tick(clock.now + 5) == ms(2024, 1, 1, 11)
    assert loop.tick(ms(2024, 1, 1, 11)) == ms(2024, 1, 1, 12)
    runs = runs_of(store, job_id)
    assert [r.trigger_type for r in runs] == ["PERIODIC", "PERIODIC"]
    assert [r.trigger_info["scheduled_time"] for r in runs if r.trigger_info] == [
        ms(2024, 1, 1, 10),
        ms(2024, 1, 1, 11),
    ]


def test_trigger_time_reference_uses_the_scheduled_time(
    store: Store, coordinator: Coordinator, clock: Clock
) -> None:
    clock.now = ms(2024, 3, 1, 5, 59, 59)
    task = shell("t")
    task["shell_command_task"]["command"] = (
        "echo {{job.trigger.type}} {{job.trigger.time.iso_datetime}} {{job.trigger.time.hour}}"
    )
    job_id = make_job(
        store,
        clock.now,
        tasks=[task],
        schedule={"quartz_cron_expression": "0 0 6 * * ?", "timezone_id": "UTC"},
    )
    clock.now = ms(2024, 3, 1, 6, 0, 4)  # the loop is a little late
    TriggerLoop(store, coordinator).tick(clock.now)
    assert len(runs_of(store, job_id)) == 1
    attempt = claim(coordinator)
    assert attempt is not None
    assert attempt.payload["settings"]["command"] == "echo periodic 2024-03-01T06:00:00 6"


# --- file arrival --------------------------------------------------------------------------------


def test_a_dropped_file_starts_exactly_one_run_that_sees_the_location(
    store: Store, coordinator: Coordinator, clock: Clock, tmp_path: Path
) -> None:
    landing = tmp_path / "landing"
    landing.mkdir()
    (landing / "old.csv").write_text("was here before")
    clock.now = int(time.time() * 1000)  # the job is saved after old.csv was written
    task = shell("t")
    task["shell_command_task"]["command"] = "echo {{job.trigger.file_arrival.location}}"
    job_id = make_job(
        store,
        clock.now,
        tasks=[task],
        trigger={"file_arrival": {"url": str(landing)}},
    )
    loop = TriggerLoop(store, coordinator, file_poll_ms=500)
    assert loop.tick(clock.now + 10) == clock.now + 10 + 500
    assert runs_of(store, job_id) == []

    (landing / "sub").mkdir()
    (landing / "sub" / "new.csv").write_text("1,2,3")
    clock.advance(SECOND)
    loop.tick(clock.now)
    runs = runs_of(store, job_id)
    assert len(runs) == 1
    run = runs[0]
    assert run.trigger_type == "FILE_ARRIVAL"
    assert run.trigger_info == {
        "file_arrival": {"location": str(landing), "files": [str(landing / "sub" / "new.csv")]}
    }
    attempt = claim(coordinator)
    assert attempt is not None
    assert attempt.payload["settings"]["command"] == f"echo {landing}"
    finish(coordinator, attempt)

    # More polls, a restart, an overwrite of a seen file: still one run.
    for _ in range(3):
        clock.advance(SECOND)
        loop.tick(clock.now)
    (landing / "old.csv").write_text("overwritten")
    clock.advance(SECOND)
    TriggerLoop(store, coordinator, file_poll_ms=500).tick(clock.now)
    assert len(runs_of(store, job_id)) == 1


def test_file_arrival_quiet_period_makes_one_batch(
    store: Store, coordinator: Coordinator, clock: Clock, tmp_path: Path
) -> None:
    landing = tmp_path / "in"
    landing.mkdir()
    job_id = make_job(
        store,
        clock.now,
        trigger={"file_arrival": {"url": str(landing), "wait_after_last_change_seconds": 5}},
    )
    loop = TriggerLoop(store, coordinator, file_poll_ms=1000)
    loop.tick(clock.now)
    for i in range(3):
        (landing / f"part-{i}.json").write_text("{}")
        clock.advance(2 * SECOND)
        loop.tick(clock.now)
    assert runs_of(store, job_id) == []
    clock.advance(6 * SECOND)
    loop.tick(clock.now)
    runs = runs_of(store, job_id)
    assert len(runs) == 1
    assert runs[0].trigger_info is not None
    files = runs[0].trigger_info["file_arrival"]["files"]
    assert [Path(f).name for f in files] == ["part-0.json", "part-1.json", "part-2.json"]


def test_fsspec_urls_are_watched_too(store: Store, coordinator: Coordinator, clock: Clock) -> None:
    import fsspec

    fs = fsspec.filesystem("memory")
    fs.mkdir("/landing-zone")
    try:
        job_id = make_job(
            store, clock.now, trigger={"file_arrival": {"url": "memory://landing-zone"}}
        )
        loop = TriggerLoop(store, coordinator, file_poll_ms=500)
        loop.tick(clock.now)
        fs.pipe("/landing-zone/a.parquet", b"x")
        clock.advance(SECOND)
        loop.tick(clock.now)
        runs = runs_of(store, job_id)
        assert len(runs) == 1
        assert runs[0].trigger_info is not None
        assert runs[0].trigger_info["file_arrival"]["files"] == ["memory:///landing-zone/a.parquet"]
    finally:
        fs.rm("/landing-zone", recursive=True)


# --- continuous ----------------------------------------------------------------------------------


def test_continuous_job_keeps_one_run_and_restarts_it_when_it_ends(
    store: Store, coordinator: Coordinator, clock: Clock
) -> None:
    job_id = make_job(store, clock.now, continuous={"pause_status": "UNPAUSED"})
    loop = TriggerLoop(store, coordinator)
    loop.tick(clock.now)
    loop.tick(clock.now + 10)
    TriggerLoop(store, coordinator).tick(clock.now + 20)
    runs = runs_of(store, job_id)
    assert len(runs) == 1
    assert runs[0].trigger_type == "CONTINUOUS"

    clock.advance(10 * SECOND)  # the least time between two starts (see the next test)
    end_run(coordinator)  # the run ends: the coordinator's change wakes the loop
    loop.tick(clock.now)
    runs = runs_of(store, job_id)
    assert [r.life_cycle for r in runs] == [LifeCycle.TERMINATED, LifeCycle.RUNNING]
    assert runs[1].trigger_info == {
        "continuous": {"consecutive_failures": 0, "previous_run_id": runs[0].run_id}
    }


def test_a_continuous_job_that_ends_at_once_waits_the_least_interval_between_starts(
    store: Store, coordinator: Coordinator, clock: Clock
) -> None:
    """Issue 11: a job ending at once made ~3 runs/s forever; now one per 10 s at most."""
    job_id = make_job(store, clock.now, continuous={})
    loop = TriggerLoop(store, coordinator)
    loop.tick(clock.now)
    started = runs_of(store, job_id)[0].start_time
    clock.advance(300)
    end_run(coordinator)
    assert loop.tick(clock.now) == started + 10 * SECOND
    assert TriggerLoop(store, coordinator).tick(clock.now) == started + 10 * SECOND  # restarted
    assert len(runs_of(store, job_id)) == 1
    clock.advance(10 * SECOND - 301)
    loop.tick(clock.now)
    assert len(runs_of(store, job_id)) == 1
    clock.advance(1)
    loop.tick(clock.now)
    runs = runs_of(store, job_id)
    assert len(runs) == 2 and runs[1].start_time - runs[0].start_time == 10 * SECOND
    # A run longer than the interval is followed at once.
    clock.advance(60 * SECOND)
    end_run(coordinator)
    loop.tick(clock.now)
    assert len(runs_of(store, job_id)) == 3
    # The figure is a setting.
    quick = TriggerLoop(store, coordinator, continuous_min_interval_ms=2 * SECOND)
    end_run(coordinator)
    assert quick.tick(clock.now) == clock.now + 2 * SECOND


def test_continuous_job_backs_off_after_failures(
    store: Store, coordinator: Coordinator, clock: Clock
) -> None:
    job_id = make_job(store, clock.now, continuous={})
    loop = TriggerLoop(store, coordinator, continuous_min_interval_ms=0)  # backoff only
    loop.tick(clock.now)
    end_run(coordinator, Result.FAILED)
    ended_at = clock.now
    assert loop.tick(clock.now) == ended_at + 10 * SECOND
    assert len(runs_of(store, job_id)) == 1
    clock.advance(10 * SECOND)
    loop.tick(clock.now)
    assert len(runs_of(store, job_id)) == 2

    end_run(coordinator, Result.FAILED)  # the second failure in a row: 20 s
    assert loop.tick(clock.now) == clock.now + 20 * SECOND
    clock.advance(20 * SECOND)
    loop.tick(clock.now)
    end_run(coordinator, Result.SUCCESS)  # success resets: the next starts at once
    loop.tick(clock.now)
    runs = runs_of(store, job_id)
    assert len(runs) == 4
    assert runs[3].life_cycle is LifeCycle.RUNNING


def test_paused_continuous_job_starts_nothing(
    store: Store, coordinator: Coordinator, clock: Clock
) -> None:
    job_id = make_job(store, clock.now, continuous={"pause_status": "PAUSED"})
    assert TriggerLoop(store, coordinator).tick(clock.now) is None
    assert runs_of(store, job_id) == []


def test_jobs_recorded_by_headrace_run_are_not_triggered(
    store: Store, coordinator: Coordinator, clock: Clock
) -> None:
    data = json.loads(
        settings_to_json(
            parse_job_settings({"name": "local", "tasks": [shell("t")], "continuous": {}})
        )
    )
    with store.begin() as conn:
        job_id = job_store.create_job(conn, data, now_ms=clock.now, source="/tmp/job.yml")
    assert TriggerLoop(store, coordinator).tick(clock.now) is None
    assert runs_of(store, job_id) == []
