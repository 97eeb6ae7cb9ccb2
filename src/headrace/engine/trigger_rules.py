"""The pure half of schedules and triggers: (trigger settings, remembered state, what was
observed, now) -> `Decision` (at most one run to start, the new state, when to look again).
No I/O; `engine/triggers.py` (the `TriggerLoop`) and `engine/table_watch.py` do that.

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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from headrace.spec.cron import NoFireTime, next_fire_time
from headrace.spec.job_parts import (
    Continuous,
    CronSchedule,
    FileArrivalTrigger,
    PeriodicTrigger,
    TableUpdateTrigger,
    TriggerSettings,
)

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


def ms_of(moment: datetime) -> int:
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)


def _dt(ms: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)


def is_fresh(state: Mapping[str, Any], kind: str, key: str) -> bool:
    """Whether `state` is not (or no longer) about this trigger: start over from enablement."""
    return state.get("kind") != kind or state.get("key") != key


def needs_enabled_at(state: Mapping[str, Any], kind: str, key: str) -> bool:
    """Whether a decision about this trigger needs the enablement time (a store read)."""
    return is_fresh(state, kind, key) or bool(state.get("paused"))


def paused_state(state: Mapping[str, Any], kind: str, key: str) -> dict[str, Any]:
    """The state of a paused trigger: what it remembered, marked paused."""
    base = {} if is_fresh(state, kind, key) else dict(state)
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
        return paused_decision(state, kind, key)
    expr, zone = schedule.quartz_cron_expression, schedule.timezone_id
    if is_fresh(state, kind, key) or "cursor" not in state:  # new, or paused since first seen
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
    if ms_of(first) > now:
        return Decision(None, new, ms_of(first))
    latest = _latest_fire(expr, zone, first, _dt(now))
    info: dict[str, Any] = {
        "schedule": {"quartz_cron_expression": expr, "timezone_id": zone},
        "scheduled_time": ms_of(latest),
    }
    if latest != first:
        info["missed_fire_times_since"] = ms_of(first)
    new.update(cursor=ms_of(latest), last_fire=ms_of(latest))
    try:
        following = next_fire_time(expr, zone, latest + timedelta(milliseconds=CRON_MIN_GAP_MS - 1))
    except NoFireTime:  # that was its last fire time (a year field in the past from now on)
        return Decision(Fire(TRIGGER_PERIODIC, info), new, None)
    return Decision(Fire(TRIGGER_PERIODIC, info), new, ms_of(following))


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
        return paused_decision(state, kind, key)
    period = periodic.interval * UNIT_MS[periodic.unit]
    if is_fresh(state, kind, key) or "anchor" not in state:  # new, or paused since first seen
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


def paused_decision(state: Mapping[str, Any], kind: str, key: str) -> Decision:
    """A paused trigger starts nothing and is looked at again only when its settings change."""
    return Decision(None, paused_state(state, kind, key), None)


class BatchTimes(NamedTuple):
    """The two timers of a trigger that fires once per batch of changes (file arrival, table
    update): when the newest pending change was seen, and when it last fired."""

    last_change: int | None
    last_fire: int | None


def remembered_times(
    state: Mapping[str, Any], kind: str, key: str, *, changed: bool, now: int
) -> BatchTimes:
    """The batch timers as `state` remembers them, `changed` (something new or different
    pending at this look) restarting the quiet period. Starting over (first look, new settings,
    unpaused) forgets the last change; only a new trigger forgets the last fire (an unpaused
    one still honours its cooldown)."""
    last_fire = None if is_fresh(state, kind, key) else state.get("last_fire")
    last_change = None if needs_enabled_at(state, kind, key) else state.get("last_change")
    return BatchTimes(now if changed else last_change, last_fire)


def batch_due(
    times: BatchTimes, now: int, settings: FileArrivalTrigger | TableUpdateTrigger
) -> tuple[bool, int | None]:
    """(whether a ready batch fires at this look, else when it will be due) given its timers."""
    due_at = due_time(times.last_change, times.last_fire, now, settings)
    return (True, None) if due_at <= now else (False, due_at)


def batch_decision(
    fire: Fire | None,
    new: dict[str, Any],
    times: BatchTimes,
    due_at: int | None,
    now: int,
    poll_ms: int,
) -> Decision:
    """The decision of a batch trigger's look: its timers kept in the new state, the next look
    at the next poll or when a pending batch is due, whichever comes first."""
    if times.last_change is not None:
        new["last_change"] = times.last_change
    if times.last_fire is not None:
        new["last_fire"] = times.last_fire
    next_check = now + poll_ms if due_at is None else min(due_at, now + poll_ms)
    return Decision(fire, new, next_check)


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
        return paused_decision(state, kind, key)
    pending: dict[str, FileStat]
    if needs_enabled_at(state, kind, key):  # first look, new URL, or unpaused: start over
        seen = {p for p, st in listing.items() if st.mtime_ms is None or st.mtime_ms <= enabled_at}
        pending = {p: st for p, st in listing.items() if p not in seen}
        changed = bool(pending)
    else:
        seen = {p for p in state.get("seen", ()) if p in listing}  # forget deleted files
        before = {p: FileStat(*st) for p, st in state.get("pending", {}).items()}
        pending = {p: listing[p] for p in before if p in listing}
        arrived = {p: st for p, st in listing.items() if p not in seen and p not in before}
        changed = bool(arrived) or any(before[p] != st for p, st in pending.items())
        pending.update(arrived)
    times = remembered_times(state, kind, key, changed=changed, now=now)
    fires, due_at = batch_due(times, now, settings) if pending else (False, None)
    fire = None
    if fires:
        files = sorted(pending)
        arrival: dict[str, Any] = {"location": key, "files": files[:MAX_LISTED_FILES]}
        if len(files) > MAX_LISTED_FILES:
            arrival["file_count"] = len(files)  # the list holds the first MAX_LISTED_FILES
        fire = Fire(TRIGGER_FILE_ARRIVAL, {"file_arrival": arrival})
        seen.update(files)
        pending, times = {}, BatchTimes(None, now)
    new: dict[str, Any] = {
        "kind": kind,
        "key": key,
        "seen": sorted(seen),
        "pending": {p: list(st) for p, st in sorted(pending.items())},
    }
    return batch_decision(fire, new, times, due_at, now, poll_ms)


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


def trigger_key(trigger: JobTrigger) -> str:
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
