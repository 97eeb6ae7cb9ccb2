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

Timers and their Databricks minimums:
- cron: Databricks leaves at least 10 s between schedule-triggered runs whatever the seconds
  field says; so does Headrace (`CRON_MIN_GAP_MS`). DST: see `headrace.spec.cron`.
- periodic: the first run fires at enablement, then every `interval` `unit` (fixed lengths:
  a day is 24 h of UTC time, so DST never shifts it).
- file arrival: Databricks polls about once a minute and requires
  `min_time_between_triggers_seconds` and `wait_after_last_change_seconds` >= 60 s. Headrace
  polls local directories every second (remote fsspec URLs every 30 s) and accepts any value
  >= 0 (0 or unset: no cooldown / no quiet period), so tests and laptops need not wait
  minutes. The first look at a directory records the files saved before enablement as seen,
  without a run. New files are paths not seen before (recursive listing); overwriting a seen file
  does not count; deleting one and creating it again does. A pending file that is still
  changing (size or mtime) resets the quiet period like a new file.
- table update: the data directory's catalog (DuckDB change log, Spark warehouse folders) is
  looked at every second and whenever a run of this server ends (its SQL may have written);
  both timers as for file arrival, any value >= 0 (Databricks: >= 60 s).
- continuous: exactly one active run; the next starts when the previous ends (Databricks
  waits up to 60 s) but never sooner than `CONTINUOUS_MIN_INTERVAL_MS` (10 s, setting
  `HEADRACE_CONTINUOUS_MIN_INTERVAL_SECONDS`) after the previous run STARTED, so a job that
  ends at once runs at most 6 times a minute instead of pinning a CPU (issue 11); or after an
  exponential backoff of 10 s doubling to 5 min while runs keep failing in a row; a success
  (or a cancel) resets it. Pausing does not cancel the active run, it only keeps new ones
  from starting.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

from pydantic import ValidationError
from sqlalchemy import Connection

from headrace.engine.coordinator import Coordinator
from headrace.errors import HeadraceError, NotFound, NotSupported, SpecError
from headrace.spec.cron import NoFireTime, next_fire_time
from headrace.spec.job_parts import (
    Continuous,
    CronSchedule,
    FileArrivalTrigger,
    PeriodicTrigger,
    TableUpdateTrigger,
    TriggerSettings,
)
from headrace.store import jobs as job_store
from headrace.store import runs as run_store
from headrace.store.db import Store
from headrace.store.records import Job, Run

log = logging.getLogger("headrace.triggers")

CRON_MIN_GAP_MS = 10_000  # Databricks: at least 10 s between schedule-triggered runs
CONTINUOUS_BACKOFF_BASE_MS = 10_000
CONTINUOUS_BACKOFF_MAX_MS = 300_000
CONTINUOUS_RECHECK_MS = 5_000  # safety net while a continuous run is active
# Least time between two run starts of one continuous job (Settings overrides it).
CONTINUOUS_MIN_INTERVAL_MS = 10_000
FILE_POLL_LOCAL_MS = 1_000
FILE_POLL_REMOTE_MS = 30_000
MAX_LISTED_FILES = 1_000  # new files named in a run's trigger_info
SCAN_MS = 1_000  # re-read the job list at most this often unless something is due
ERROR_RETRY_MS = 10_000
FAILED_RESULTS = frozenset({"FAILED", "TIMEDOUT", "INTERNAL_ERROR"})
UNIT_MS = {
    "MINUTES": 60_000,
    "HOURS": 3_600_000,
    "DAYS": 86_400_000,
    "WEEKS": 7 * 86_400_000,
}

TRIGGER_PERIODIC = "PERIODIC"
TRIGGER_FILE_ARRIVAL = "FILE_ARRIVAL"
TRIGGER_CONTINUOUS = "CONTINUOUS"


# --- the pure part ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Fire:
    """One run to start."""

    trigger_type: str
    trigger_info: dict[str, Any]


@dataclass(frozen=True)
class Decision:
    """What one look at a job's trigger decided."""

    fire: Fire | None
    state: dict[str, Any]  # the state to remember (equal to the old one: nothing to write)
    next_check_ms: int | None  # when to look again; None: only when the settings change


class FileStat(NamedTuple):
    """What a listing tells about one file."""

    size: int | None
    mtime_ms: int | None


class EndedRun(NamedTuple):
    """An ended run of a continuous job (newest first in `decide_continuous`)."""

    run_id: int
    result: str | None  # result_state, or INTERNAL_ERROR
    end_time: int | None
    start_time: int | None = None


def _ms(moment: datetime) -> int:
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)


def _dt(ms: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)


def _fresh(state: Mapping[str, Any], kind: str, key: str) -> bool:
    """Whether `state` is not (or no longer) about this trigger: start over from enablement."""
    return state.get("kind") != kind or state.get("key") != key


def needs_enabled_at(state: Mapping[str, Any], kind: str, key: str) -> bool:
    """Whether a decision about this trigger needs the enablement time (a store read)."""
    return _fresh(state, kind, key) or bool(state.get("paused"))


def _paused_state(state: Mapping[str, Any], kind: str, key: str) -> dict[str, Any]:
    """The state of a paused trigger: what it remembered, marked paused."""
    base = {} if _fresh(state, kind, key) else dict(state)
    return {**base, "kind": kind, "key": key, "paused": True}


def cron_key(schedule: CronSchedule) -> str:
    return f"{schedule.quartz_cron_expression} @ {schedule.timezone_id}"


def decide_cron(
    schedule: CronSchedule, state: Mapping[str, Any], now: int, enabled_at: int
) -> Decision:
    """Fire a Quartz cron schedule at most once per look; see the module doc for missed ticks.

    State: `cursor` (every fire time <= cursor is handled), `last_fire` (scheduled time of the
    last run), `paused`. Raises: NotSupported, NoFireTime, SpecError (from the cron module).
    """
    kind, key = "cron", cron_key(schedule)
    if schedule.pause_status == "PAUSED":
        return Decision(None, _paused_state(state, kind, key), None)
    expr, zone = schedule.quartz_cron_expression, schedule.timezone_id
    if _fresh(state, kind, key) or "cursor" not in state:  # new, or paused since first seen
        cursor, last_fire = min(enabled_at, now), None
    else:
        cursor, last_fire = int(state["cursor"]), state.get("last_fire")
        if state.get("paused"):  # unpaused: nothing of the paused time is owed
            cursor = max(cursor, min(enabled_at, now))
    new: dict[str, Any] = {"kind": kind, "key": key, "cursor": cursor}
    if last_fire is not None:
        new["last_fire"] = last_fire
    after = cursor if last_fire is None else max(cursor, last_fire + CRON_MIN_GAP_MS - 1)
    first = next_fire_time(expr, zone, _dt(after))
    if _ms(first) > now:
        return Decision(None, new, _ms(first))
    latest = _latest_fire(expr, zone, first, _dt(now))
    info: dict[str, Any] = {
        "schedule": {"quartz_cron_expression": expr, "timezone_id": zone},
        "scheduled_time": _ms(latest),
    }
    if latest != first:
        info["missed_fire_times_since"] = _ms(first)
    new.update(cursor=_ms(latest), last_fire=_ms(latest))
    try:
        following = next_fire_time(expr, zone, latest + timedelta(milliseconds=CRON_MIN_GAP_MS - 1))
    except NoFireTime:  # that was its last fire time (a year field in the past from now on)
        return Decision(Fire(TRIGGER_PERIODIC, info), new, None)
    return Decision(Fire(TRIGGER_PERIODIC, info), new, _ms(following))


def _latest_fire(expr: str, zone: str, first: datetime, now: datetime) -> datetime:
    """The last fire time <= `now`, given that `first` (<= now) is one.

    Looks back from `now` over a window doubling from 1 s, so a long downtime costs a few
    dozen evaluations, not one per missed fire time.
    """

    def after(moment: datetime) -> datetime | None:
        try:
            return next_fire_time(expr, zone, moment)
        except NoFireTime:  # a year field that has run out
            return None

    span = timedelta(seconds=1)
    latest = first
    while True:
        start = max(first, now - span)
        found = after(start)
        if found is not None and found <= now:
            latest = found
            break
        if start == first:
            break
        span *= 2
    while (following := after(latest)) is not None and following <= now:
        latest = following
    return latest


def periodic_key(periodic: PeriodicTrigger) -> str:
    return f"{periodic.interval} {periodic.unit}"


def decide_periodic(
    periodic: PeriodicTrigger, state: Mapping[str, Any], now: int, enabled_at: int, *, paused: bool
) -> Decision:
    """Fire at enablement and then every `interval` `unit`, at most once per look.

    State: `anchor` (the first fire time; later ones are anchor + k * period), `cursor`
    (fire times <= cursor are handled), `paused`.
    """
    kind, key = "periodic", periodic_key(periodic)
    if paused:
        return Decision(None, _paused_state(state, kind, key), None)
    period = periodic.interval * UNIT_MS[periodic.unit]
    if _fresh(state, kind, key) or "anchor" not in state:  # new, or paused since first seen
        anchor = min(enabled_at, now)
        cursor = anchor - 1  # the anchor itself is the first fire time
    else:
        anchor, cursor = int(state["anchor"]), int(state["cursor"])
        if state.get("paused"):
            cursor = max(cursor, min(enabled_at, now))
    new = {"kind": kind, "key": key, "anchor": anchor, "cursor": cursor}
    first = anchor + ((cursor - anchor) // period + 1) * period
    if first > now:
        return Decision(None, new, first)
    latest = anchor + ((now - anchor) // period) * period
    info: dict[str, Any] = {
        "periodic": {"interval": periodic.interval, "unit": periodic.unit},
        "scheduled_time": latest,
    }
    if latest != first:
        info["missed_fire_times_since"] = first
    new["cursor"] = latest
    return Decision(Fire(TRIGGER_PERIODIC, info), new, latest + period)


def due_time(
    last_change: int | None,
    last_fire: int | None,
    now: int,
    settings: FileArrivalTrigger | TableUpdateTrigger,
) -> int:
    """When a batch of changes may fire: once nothing changed for
    `wait_after_last_change_seconds` and `min_time_between_triggers_seconds` passed since the
    last fire (file arrival and table update triggers share both timers)."""
    wait_ms = (settings.wait_after_last_change_seconds or 0) * 1000
    cooldown_ms = (settings.min_time_between_triggers_seconds or 0) * 1000
    return max((last_change or now) + wait_ms, (last_fire or 0) + cooldown_ms)


def decide_file_arrival(
    listing: Mapping[str, FileStat],
    state: Mapping[str, Any],
    now: int,
    settings: FileArrivalTrigger,
    *,
    enabled_at: int,
    paused: bool = False,
    poll_ms: int = FILE_POLL_LOCAL_MS,
) -> Decision:
    """Fire once per batch of new files under `settings.url`, honouring both timers.

    `listing` is every file under the URL now. State: `seen` (paths already handled or there
    before enablement), `pending` ({path: [size, mtime_ms]} new files not yet fired),
    `last_change` (when the newest pending change was seen), `last_fire`, `paused`.
    A first look records the files older than `enabled_at` as seen and newer ones as new.
    """
    kind, key = "file_arrival", settings.url
    if paused:
        return Decision(None, _paused_state(state, kind, key), None)
    pending: dict[str, FileStat]
    if needs_enabled_at(state, kind, key):  # first look, new URL, or unpaused: start over
        seen = {p for p, st in listing.items() if st.mtime_ms is None or st.mtime_ms <= enabled_at}
        pending = {p: st for p, st in listing.items() if p not in seen}
        last_change = now if pending else None
        last_fire = None if _fresh(state, kind, key) else state.get("last_fire")
    else:
        seen = {p for p in state.get("seen", ()) if p in listing}  # forget deleted files
        before = {p: FileStat(*st) for p, st in state.get("pending", {}).items()}
        pending = {p: listing[p] for p in before if p in listing}
        last_change = state.get("last_change")
        last_fire = state.get("last_fire")
        arrived = {p: st for p, st in listing.items() if p not in seen and p not in before}
        changed = any(before[p] != st for p, st in pending.items())
        if arrived or changed:
            pending.update(arrived)
            last_change = now
    due_at = None
    if pending:
        due_at = due_time(last_change, last_fire, now, settings)
    fire = None
    if due_at is not None and due_at <= now:
        files = sorted(pending)
        arrival: dict[str, Any] = {"location": key, "files": files[:MAX_LISTED_FILES]}
        if len(files) > MAX_LISTED_FILES:
            arrival["file_count"] = len(files)  # the list holds the first MAX_LISTED_FILES
        fire = Fire(TRIGGER_FILE_ARRIVAL, {"file_arrival": arrival})
        seen.update(files)
        pending, last_change, last_fire = {}, None, now
        due_at = None
    new: dict[str, Any] = {
        "kind": kind,
        "key": key,
        "seen": sorted(seen),
        "pending": {p: list(st) for p, st in sorted(pending.items())},
    }
    if last_change is not None:
        new["last_change"] = last_change
    if last_fire is not None:
        new["last_fire"] = last_fire
    next_check = now + poll_ms if due_at is None else min(due_at, now + poll_ms)
    return Decision(fire, new, next_check)


def continuous_backoff_ms(failures: int) -> int:
    """How long to wait before the next run after `failures` failed runs in a row."""
    if failures <= 0:
        return 0
    return min(CONTINUOUS_BACKOFF_BASE_MS * 2 ** min(failures - 1, 30), CONTINUOUS_BACKOFF_MAX_MS)


def decide_continuous(
    active_runs: int,
    last_results: Sequence[EndedRun],
    state: Mapping[str, Any],
    now: int,
    *,
    paused: bool = False,
    min_interval_ms: int = CONTINUOUS_MIN_INTERVAL_MS,
) -> Decision:
    """Keep exactly one run active: start one when none is, after a backoff on failures and
    at least `min_interval_ms` after the previous start.

    `last_results` are the job's recent ended runs, newest first. The run history in the store
    is the truth; the state records the last start too (a run deleted meanwhile still counts).
    """
    kept = dict(state) if state.get("kind") == "continuous" else {"kind": "continuous"}
    if paused or active_runs > 0:
        return Decision(None, kept, None if paused else now + CONTINUOUS_RECHECK_MS)
    failures = 0
    for ended in last_results:
        if ended.result not in FAILED_RESULTS:
            break
        failures += 1
    last = last_results[0] if last_results else None
    starts = [t for t in (kept.get("last_start"), last and last.start_time) if t is not None]
    start_at = max(starts) + min_interval_ms if starts else now
    if last is not None and last.end_time is not None:
        start_at = max(start_at, last.end_time + continuous_backoff_ms(failures))
    if start_at > now:
        return Decision(None, kept, start_at)
    info: dict[str, Any] = {"continuous": {"consecutive_failures": failures}}
    if last is not None:
        info["continuous"]["previous_run_id"] = last.run_id
    new = {**kept, "last_start": now}
    return Decision(Fire(TRIGGER_CONTINUOUS, info), new, now + CONTINUOUS_RECHECK_MS)


# --- reading a job's trigger -----------------------------------------------------------------


@dataclass(frozen=True)
class JobTrigger:
    """The one thing that starts a job's runs by itself."""

    kind: str  # cron, periodic, file_arrival, table_update, continuous, or unsupported
    spec: Any  # CronSchedule, PeriodicTrigger, FileArrivalTrigger, Continuous, or a kind name
    paused: bool
    signature: str  # changes whenever the trigger's settings change


def trigger_of(settings: Mapping[str, Any]) -> JobTrigger | None:
    """The trigger of stored job settings, or None. Raises: ValidationError."""
    parts = {k: settings.get(k) for k in ("continuous", "schedule", "trigger")}
    if all(v is None for v in parts.values()):
        return None
    signature = json.dumps(parts, sort_keys=True, default=str)
    if parts["continuous"] is not None:
        cont = Continuous.model_validate(parts["continuous"])
        return JobTrigger("continuous", cont, cont.pause_status == "PAUSED", signature)
    if parts["schedule"] is not None:
        sched = CronSchedule.model_validate(parts["schedule"])
        return JobTrigger("cron", sched, sched.pause_status == "PAUSED", signature)
    trig = TriggerSettings.model_validate(parts["trigger"])
    paused = trig.pause_status == "PAUSED"
    if trig.periodic is not None:
        return JobTrigger("periodic", trig.periodic, paused, signature)
    if trig.file_arrival is not None:
        return JobTrigger("file_arrival", trig.file_arrival, paused, signature)
    if trig.table_update is not None:
        return JobTrigger("table_update", trig.table_update, paused, signature)
    return JobTrigger("unsupported", ",".join(trig.kinds) or "none", paused, signature)


def _key_of(trigger: JobTrigger) -> str:
    if trigger.kind == "cron":
        return cron_key(trigger.spec)
    if trigger.kind == "periodic":
        return periodic_key(trigger.spec)
    if trigger.kind == "file_arrival":
        return trigger.spec.url
    if trigger.kind == "table_update":
        from headrace.engine.table_watch import table_key

        return table_key(trigger.spec)
    return ""


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
            return _ms(value if value.tzinfo else value.replace(tzinfo=UTC))
        if isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                continue
            return _ms(parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC))
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
        key = _key_of(trigger)
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
