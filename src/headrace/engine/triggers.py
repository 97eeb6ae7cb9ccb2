"""Schedules and triggers: cron, periodic, file arrival, table update and continuous jobs
start runs here.

The decisions are pure functions of (trigger settings, remembered state, what was observed,
now) -> `Decision`: at most one run to start, the new state, and when to look again. The
`TriggerLoop` around them does the I/O: it reads jobs and their trigger state from the store,
lists watched directories with fsspec, and starts runs through the coordinator. A fired tick's
new state is written by `Coordinator.start_run(on_created=...)` in the transaction that
creates the run, so a tick and its run are committed together or not at all: a server killed
at any instant and restarted neither loses nor repeats a tick.

Which jobs: every stored job with `continuous`, a `schedule`, or a `trigger` of kind
`periodic`, `file_arrival` or `table_update`, except the jobs `headrace run FILE` records
(they have a `source`; running a file once does not deploy its schedule). Other trigger kinds
(`job_completion`, `model`, `sql_condition`) are accepted by the spec and ignored here (logged
once; `bundle validate` warns). `pause_status: PAUSED` on the schedule, trigger or continuous
block means: never fire; unpausing does not fire what would have run while paused.

Enablement: when a job's trigger is first seen (or its expression, interval or URL changes,
or it is unpaused), the moment its settings were saved (the job's latest version) counts as
the moment the trigger was enabled, so a server that notices a new job a few seconds late
still fires what fell due in between.

Missed ticks (the server was down, or the loop was late): however many fire times of a cron
schedule or periodic trigger passed unseen, a job gets AT MOST ONE catch-up run, as soon as
the loop sees it; that run's scheduled time is the LATEST missed fire time and its
`trigger_info.missed_fire_times_since` is the first missed one. Runs never pile up. Files that
arrived during the downtime are one batch: one run. A continuous job simply starts its next
run. (Databricks: "scheduled jobs run immediately upon service availability".)

Run fields: cron and periodic runs get trigger PERIODIC, file arrival FILE_ARRIVAL, continuous
CONTINUOUS; `trigger_info` holds `scheduled_time` (epoch ms, used by
`{{job.trigger.time.<arg>}}`), the `schedule`/`periodic` settings, or
`file_arrival: {location, files}` (`{{job.trigger.file_arrival.location}}`; `files` names the
batch's new files, the first MAX_LISTED_FILES of them, with `file_count` when there are more),
or `continuous: {consecutive_failures, previous_run_id}`, or (trigger TABLE)
`table_update: {updated_tables, tables: {name: {version, commit_timestamp}}}`
(`{{job.trigger.table_update.*}}`; the watcher is `engine/table_watch.py`).


The pure decisions and the timers' rules are in `engine/trigger_rules.py`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Connection

from headrace.engine.coordinator import Coordinator
from headrace.engine.trigger_rules import (
    CONTINUOUS_MIN_INTERVAL_MS,
    ERROR_RETRY_MS,
    FILE_POLL_LOCAL_MS,
    FILE_POLL_REMOTE_MS,
    SCAN_MS,
    Decision,
    EndedRun,
    FileStat,
    Fire,
    JobTrigger,
    decide_continuous,
    decide_cron,
    decide_file_arrival,
    decide_periodic,
    ms_of,
    needs_enabled_at,
    trigger_key,
    trigger_of,
)
from headrace.errors import HeadraceError, NotFound, NotSupported, SpecError
from headrace.spec.cron import NoFireTime
from headrace.store import jobs as job_store
from headrace.store import runs as run_store
from headrace.store.db import Store
from headrace.store.records import Job, Run

log = logging.getLogger("headrace.triggers")

# --- the I/O part ----------------------------------------------------------------------------


class TriggerRaced(HeadraceError):
    """Someone else changed the trigger state (or started the continuous run) meanwhile."""


def list_files(url: str) -> dict[str, FileStat]:
    """Every file under `url` (a local directory or any fsspec URL), recursively.

    A missing directory lists as empty (files appearing once it exists are new).
    """
    import fsspec  # only when a job watches files

    fs, root = fsspec.core.url_to_fs(url)
    local = _is_local(fs)
    try:
        found = fs.find(root, detail=True, withdirs=False)
    except FileNotFoundError:
        return {}
    out = {}
    for path, info in found.items():
        if info.get("type", "file") != "file":
            continue
        name = path if local else fs.unstrip_protocol(path)
        out[name] = FileStat(info.get("size"), _mtime_ms(info))
    return out


def _is_local(fs: Any) -> bool:
    protocol = fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)
    return "file" in protocol or "local" in protocol


def _mtime_ms(info: Mapping[str, Any]) -> int | None:
    """The modification time in a listing entry, whatever the filesystem calls it."""
    for name in ("mtime", "LastModified", "last_modified", "updated", "modified", "created"):
        value = info.get(name)
        if isinstance(value, int | float):
            return int(value * 1000)
        if isinstance(value, datetime):
            return ms_of(value if value.tzinfo else value.replace(tzinfo=UTC))
        if isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                continue
            return ms_of(parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC))
    return None


def poll_interval_ms(url: str) -> int:
    """How often a watched URL is listed: local paths often, remote storage less."""
    scheme = url.split("://", 1)[0] if "://" in url else "file"
    return FILE_POLL_LOCAL_MS if scheme in ("file", "local") else FILE_POLL_REMOTE_MS


class TriggerLoop:
    """Starts the runs that schedules and triggers owe; `tick(now_ms)` does one pass.

    The server's coordinator loop calls `tick` on each pass and sleeps until the time it
    returns. Between passes the loop keeps, in memory only, when each job next needs a look
    (an optimisation: the state that matters is in the store).
    """

    def __init__(
        self,
        store: Store,
        coordinator: Coordinator,
        *,
        file_poll_ms: int | None = None,
        continuous_min_interval_ms: int = CONTINUOUS_MIN_INTERVAL_MS,
        home: Path | None = None,
    ) -> None:
        self.store = store
        self.home = home  # the data directory whose catalog table triggers watch
        self.coordinator = coordinator
        self.file_poll_ms = file_poll_ms
        self.continuous_min_interval_ms = continuous_min_interval_ms
        self._due: dict[int, tuple[str, int | None]] = {}  # job -> (signature, next look)
        self._next: int | None = None
        self._last_scan: int | None = None
        self._dirty = True  # a run ended: continuous jobs may need their next run
        self._warned: set[tuple[int, str]] = set()
        coordinator.subscribe(self._on_change)

    def _on_change(self, change: Any) -> None:
        # A run ended: continuous jobs may owe the next, and its SQL may have written a table
        # a table_update trigger watches (those also look every second).
        if change.run_ended:
            self._dirty = True

    def tick(self, now_ms: int) -> int | None:
        """Start every due run and persist the state; returns when to look next (epoch ms)."""
        quiet = self._last_scan is not None and now_ms < self._last_scan + SCAN_MS
        if quiet and not self._dirty and (self._next is None or now_ms < self._next):
            return self._next
        dirty, self._dirty = self._dirty, False
        self._last_scan = now_ms
        with self.store.read() as conn:
            jobs = job_store.all_jobs(conn)
        due: dict[int, tuple[str, int | None]] = {}
        for job in jobs:
            if job.source is not None:
                continue  # recorded by `headrace run FILE`: not deployed
            try:
                trigger = trigger_of(job.settings)
            except ValidationError as exc:
                self._warn_once(job.job_id, "settings", f"cannot read its trigger: {exc}")
                continue
            if trigger is None:
                continue
            cached = self._due.get(job.job_id)
            if (
                cached is not None
                and cached[0] == trigger.signature
                and (cached[1] is None or cached[1] > now_ms)
                and not (dirty and trigger.kind in ("continuous", "table_update"))
            ):
                due[job.job_id] = cached
                continue
            try:
                next_at = self._check(job, trigger, now_ms)
            except Exception:
                log.exception("trigger of job %d failed; trying again later", job.job_id)
                next_at = now_ms + ERROR_RETRY_MS
            due[job.job_id] = (trigger.signature, next_at)
        self._due = due
        times = [t for _, t in due.values() if t is not None]
        self._next = min(times) if times else None
        return self._next

    # --- one job -------------------------------------------------------------------------

    def _check(self, job: Job, trigger: JobTrigger, now: int) -> int | None:
        """Look at one job's trigger: decide, start the run it owes, remember."""
        if trigger.kind == "unsupported":
            self._warn_once(
                job.job_id, "kind", f"trigger kind {trigger.spec} is not supported; ignored"
            )
            return None
        key = trigger_key(trigger)
        active, ended = 0, []
        with self.store.read() as conn:
            state = job_store.get_trigger_state(conn, job.job_id)
            enabled_at = now
            if trigger.kind != "continuous" and needs_enabled_at(state, trigger.kind, key):
                enabled_at = min(now, self._enabled_at(conn, job))
            if trigger.kind == "continuous" and not trigger.paused:
                active = len(run_store.list_runs(conn, job_id=job.job_id, active_only=True))
                if not active:
                    ended = [_ended(r) for r in _recent_ended(conn, job.job_id)]
        seq = int(state.pop("seq", 0))
        try:
            decision = self._decide(trigger, state, now, enabled_at, active, ended)
        except (NotSupported, NoFireTime, SpecError) as exc:
            self._warn_once(job.job_id, key, f"schedule never fires here: {exc}")
            return None
        if decision.fire is not None:
            if not self._fire(job, trigger, seq, decision, now):
                return now  # raced: look again on the next pass
        elif decision.state != state:
            self._remember(job.job_id, seq, decision.state, now)
        return decision.next_check_ms

    def _decide(
        self,
        trigger: JobTrigger,
        state: dict[str, Any],
        now: int,
        enabled_at: int,
        active: int,
        ended: list[EndedRun],
    ) -> Decision:
        if trigger.kind == "cron":
            return decide_cron(trigger.spec, state, now, enabled_at)
        if trigger.kind == "periodic":
            return decide_periodic(trigger.spec, state, now, enabled_at, paused=trigger.paused)
        if trigger.kind == "file_arrival":
            url = trigger.spec.url
            listing = {} if trigger.paused else list_files(url)
            return decide_file_arrival(
                listing,
                state,
                now,
                trigger.spec,
                enabled_at=enabled_at,
                paused=trigger.paused,
                poll_ms=self.file_poll_ms or poll_interval_ms(url),
            )
        if trigger.kind == "table_update":
            from headrace.config import default_home
            from headrace.engine.table_watch import decide_table_update, table_states

            names = trigger.spec.table_names
            tables = {} if trigger.paused else table_states(self.home or default_home(), names)
            return decide_table_update(
                tables,
                state,
                now,
                trigger.spec,
                enabled_at=enabled_at,
                paused=trigger.paused,
                poll_ms=self.file_poll_ms or FILE_POLL_LOCAL_MS,
            )
        return decide_continuous(
            active,
            ended,
            state,
            now,
            paused=trigger.paused,
            min_interval_ms=self.continuous_min_interval_ms,
        )

    def _enabled_at(self, conn: Connection, job: Job) -> int:
        """When the job's current settings were saved (its latest version), else its creation."""
        versions = job_store.versions(conn, job.job_id)
        return int(versions[-1]["created_time"]) if versions else job.created_time

    def _fire(self, job: Job, trigger: JobTrigger, seq: int, decision: Decision, now: int) -> bool:
        """Start the run; its transaction also stores the new state (or neither happens).

        Returns False when the job or its trigger state changed meanwhile (nothing was done).
        """
        from headrace.engine.jobs import run_identity
        from headrace.spec.loader import parse_job_settings

        assert decision.fire is not None
        try:
            with self.store.read() as conn:
                current = job_store.get_job(conn, job.job_id)
                version = job_store.latest_version(conn, job.job_id)
        except NotFound:
            return False  # deleted meanwhile
        again = trigger_of(current.settings)
        if again is None or again.signature != trigger.signature:
            return False  # its trigger changed meanwhile: decide again
        try:
            settings = parse_job_settings(current.settings)  # the job's current settings
        except SpecError as exc:  # stored before a rule it now breaks (issue 11's limits)
            what = f"{trigger.kind} could not start a run: {exc}"
            self._warn_once(job.job_id, f"settings: {exc}", what)
            self._remember(job.job_id, seq, decision.state, now)
            return True
        state = {**decision.state, "seq": seq + 1}
        only_run = trigger.kind == "continuous"

        def record(conn: Connection, run_id: int) -> None:
            self._guard(conn, job.job_id, seq)
            if only_run and any(
                r.run_id != run_id
                for r in run_store.list_runs(conn, job_id=job.job_id, active_only=True)
            ):
                raise TriggerRaced(f"job {job.job_id} already has an active run")
            job_store.put_trigger_state(conn, job.job_id, state, now)

        try:
            run_id = self.coordinator.start_run(
                settings,
                job_id=job.job_id,
                trigger_type=decision.fire.trigger_type,
                run_as=run_identity(current.settings, current.creator_user_name),
                job_version=version,
                trigger_info=decision.fire.trigger_info,
                on_created=record,
            )
        except Exception as exc:
            if isinstance(exc, TriggerRaced):
                log.info("job %d: %s; deciding again", job.job_id, exc)
                return False
            if not isinstance(exc, HeadraceError):
                raise  # e.g. the store failed: nothing was committed, the tick stays due
            # The job cannot start (e.g. a parameter does not resolve): the tick is spent,
            # not retried forever.
            what = f"{trigger.kind} could not start a run: {exc}"
            self._warn_once(job.job_id, f"start: {exc}", what)
            self._remember(job.job_id, seq, decision.state, now)
            return True
        log.info(
            "job %d: %s trigger started run %d", job.job_id, decision.fire.trigger_type, run_id
        )
        return True

    def _remember(self, job_id: int, seq: int, state: dict[str, Any], now: int) -> None:
        """Store a trigger state that changed without a run (first look, files seen...)."""
        try:
            with self.store.begin() as conn:
                job_store.get_job(conn, job_id)  # deleted meanwhile: leave no state behind
                self._guard(conn, job_id, seq)
                job_store.put_trigger_state(conn, job_id, {**state, "seq": seq + 1}, now)
        except (TriggerRaced, NotFound) as exc:
            log.info("job %d: trigger state not stored: %s", job_id, exc)

    @staticmethod
    def _guard(conn: Connection, job_id: int, seq: int) -> None:
        """Raise TriggerRaced unless the stored state is still the one the decision read."""
        if int(job_store.get_trigger_state(conn, job_id).get("seq", 0)) != seq:
            raise TriggerRaced(f"the trigger state of job {job_id} changed meanwhile")

    def _warn_once(self, job_id: int, what: str, message: str) -> None:
        if (job_id, what) not in self._warned:
            self._warned.add((job_id, what))
            log.warning("job %d: %s", job_id, message)


def _recent_ended(conn: Connection, job_id: int) -> list[Run]:
    """A continuous job's latest ended runs, newest first (enough to count the backoff)."""
    return run_store.list_runs(conn, job_id=job_id, completed_only=True, limit=10)


def _ended(run: Run) -> EndedRun:
    result = run.result.value if run.result is not None else run.life_cycle.value
    return EndedRun(run.run_id, result, run.end_time, run.start_time)


__all__ = [
    "Decision",
    "EndedRun",
    "FileStat",
    "Fire",
    "TriggerLoop",
    "decide_continuous",
    "decide_cron",
    "decide_file_arrival",
    "decide_periodic",
    "list_files",
    "trigger_of",
]
