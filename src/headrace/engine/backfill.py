"""Backfills (issue 16): one run of a job per logical date over a range, a few at a time.

`create_backfill` works out the logical dates (every `--every`, or the job's cron schedule's
fire times) and stores them, skipping dates that an earlier backfill of the job already ran
successfully (or runs now) unless `rerun`. `pump` is the one place runs are started: for each
running backfill it fills free slots, where a slot is free when the backfill has fewer than
`max_concurrent` active runs AND the job has fewer than `max_concurrent_runs` active runs AND
no other run of the job waits in its queue (a scheduled or manual run always goes before the
next backfill date: a backfill never starves the schedule). Each run is created with trigger
`BACKFILL` and its logical date as the trigger time, so `{{backfill.iso_date}}`,
`{{backfill.iso_datetime}}` and `{{job.trigger.time.*}}` give that date. The server's
coordinator loop and `headrace jobs backfill` (when no server runs) call `pump`.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from headrace.engine import jobs as job_service
from headrace.engine.coordinator import Coordinator, NewRun, now_ms
from headrace.engine.jobs import Principal
from headrace.engine.rules import check_parameters
from headrace.errors import HeadraceError, SpecError, SpecIssue
from headrace.spec.models import JobSettings
from headrace.store import backfills as store
from headrace.store import jobs as job_store
from headrace.store import runs as run_store
from headrace.store.db import Store
from headrace.store.records import Attempt

log = logging.getLogger("headrace.engine")
MAX_DATES = 10_000
MAX_CONCURRENT = 1_000
_EVERY = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNIT_MS = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 7 * 86_400_000}
_FAILED = {"FAILED", "TIMEDOUT", "UPSTREAM_FAILED", "MAXIMUM_CONCURRENT_RUNS_REACHED"}


@dataclass(frozen=True)
class BackfillRequest:
    """What a user asks for (the CLI's flags, the API's body)."""

    job_id: int
    start: str
    end: str
    every: str | None = None
    max_concurrent: int = 1
    reverse: bool = False
    parameters: dict[str, str] = field(default_factory=dict)
    rerun: bool = False


def parse_moment(value: Any, name: str) -> datetime:
    """An ISO date (`2026-11-01`) or date-time (naive means UTC) as an aware UTC datetime.

    Raises: SpecError naming the field."""
    if not isinstance(value, str) or not value.strip():
        raise SpecError([SpecIssue(name, f"must be an ISO date like 2026-11-01, got {value!r}")])
    text = value.strip()
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise SpecError(
            [SpecIssue(name, f"must be an ISO date or date-time (2026-11-01), got {value!r}")]
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_every(value: str) -> int:
    """`1d`, `6h`, `30m`, `1w`, `90s` as milliseconds. Raises: SpecError."""
    match = _EVERY.match(value) if isinstance(value, str) else None
    if match is None or int(match.group(1)) == 0:
        raise SpecError(
            [SpecIssue("every", f"must be a positive NUMBER+UNIT (s, m, h, d, w), got {value!r}")]
        )
    return int(match.group(1)) * _UNIT_MS[match.group(2)]


def logical_times(
    settings: JobSettings, start: datetime, end: datetime, every: str | None
) -> list[int]:
    """The logical dates from `start` to `end` (both included), as epoch ms, ascending.

    Raises: SpecError (no interval and no schedule, an empty or too long range)."""
    if end < start:
        raise SpecError(
            [SpecIssue("to", f"is before from ({end.isoformat()} < {start.isoformat()})")]
        )
    out: list[int] = []
    if every is not None:
        step = timedelta(milliseconds=parse_every(every))
        moment = start
        while moment <= end and len(out) <= MAX_DATES:
            out.append(_ms(moment))
            moment += step
    elif settings.schedule is not None:
        from headrace.spec.cron import next_fire_time

        expr, zone = settings.schedule.quartz_cron_expression, settings.schedule.timezone_id
        moment = next_fire_time(expr, zone, start - timedelta(milliseconds=1))
        while moment <= end and len(out) <= MAX_DATES:
            out.append(_ms(moment))
            moment = next_fire_time(expr, zone, moment)
    else:
        raise SpecError(
            [SpecIssue("every", "the job has no schedule to take dates from: give an interval")]
        )
    if len(out) > MAX_DATES:
        raise SpecError([SpecIssue("to", f"the range holds more than {MAX_DATES} dates")])
    if not out:
        raise SpecError([SpecIssue("from", "no logical date falls between from and to")])
    return out


def _ms(moment: datetime) -> int:
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def create_backfill(db: Store, who: Principal | None, req: BackfillRequest) -> dict[str, Any]:
    """Store a backfill (needs CAN_MANAGE_RUN); returns its progress. Starts nothing itself.

    Raises: NotFound, PermissionDenied, SpecError."""
    if not 1 <= req.max_concurrent <= MAX_CONCURRENT:
        raise SpecError(
            [SpecIssue("max_concurrent", f"must be 1..{MAX_CONCURRENT}, got {req.max_concurrent}")]
        )
    start, end = parse_moment(req.start, "from"), parse_moment(req.end, "to")
    if isinstance(req.end, str) and len(req.end.strip()) == 10:
        end += timedelta(days=1, milliseconds=-1)  # `--to 2026-11-07`: the whole day
    with db.read() as conn:
        settings = _job_settings(conn, who, req.job_id)
    check_parameters(settings, req.parameters)
    times = logical_times(settings, start, end, req.every)
    if req.reverse:
        times.reverse()
    options = {
        "from": iso(_ms(start)),
        "to": iso(_ms(end)),
        "every": req.every,
        "schedule": None if req.every else settings.schedule.quartz_cron_expression,  # type: ignore[union-attr]
        "reverse": req.reverse,
        "rerun": req.rerun,
        "parameters": req.parameters,
    }
    with db.begin() as conn:
        job_store.lock_job(conn, req.job_id)  # two identical requests at once: one wins each date
        settled = store.settled_dates(conn, req.job_id, times)
        if req.rerun:  # rerun dates that succeeded, never one that runs right now
            settled = {t: why for t, why in settled.items() if why.startswith("running")}
        dates = [
            (t, "SKIPPED", settled[t]) if t in settled else (t, "PENDING", None) for t in times
        ]
        backfill_id = store.insert_backfill(
            conn,
            dates=dates,
            job_id=req.job_id,
            created_by=who.user_name if who is not None else None,
            created_time=now_ms(),
            options=options,
            max_concurrent=req.max_concurrent,
            state="RUNNING",
        )
        return progress_of(conn, store.get_backfill(conn, backfill_id))


def _job_settings(conn: Connection, who: Principal | None, job_id: int) -> JobSettings:
    from headrace.spec.loader import parse_job_settings

    if who is not None:
        job = job_service.require(conn, who, job_id, "CAN_MANAGE_RUN")
    else:
        job = job_store.get_job(conn, job_id)
    return parse_job_settings(job.settings)


class _DateTaken(HeadraceError):
    """Another process started one of these dates first (the runs are rolled back)."""


def pump(db: Store, coordinator: Coordinator, *, only: int | None = None) -> list[int]:
    """Start the runs running backfills have room for; finish backfills with nothing left.

    Returns the new run ids. Safe to call from several processes at once."""
    started: list[int] = []
    with db.read() as conn:
        running = [b for b in store.running_backfills(conn) if only in (None, b.backfill_id)]
    for backfill in running:
        try:
            started += _pump_one(db, coordinator, backfill)
        except Exception:  # one broken backfill must not stop the others
            log.exception("backfill %d: starting its runs failed", backfill.backfill_id)
    return started


def _pump_one(db: Store, coordinator: Coordinator, backfill: store.Backfill) -> list[int]:
    from headrace.errors import NotFound
    from headrace.spec.loader import parse_job_settings

    job_id = backfill.job_id
    with db.read() as conn:
        try:
            job = job_store.get_job(conn, job_id)
        except NotFound:
            job = None
        active = store.active_run_count(conn, backfill.backfill_id)
        if job is not None:
            settings = parse_job_settings(job.settings)
            job_active = run_store.count_admitted_runs(conn, job_id)
            waiting = bool(run_store.queued_runs(conn, job_id))
            version = job_store.latest_version(conn, job_id)
            free = (
                0
                if waiting
                else min(
                    backfill.max_concurrent - active, settings.max_concurrent_runs - job_active
                )
            )
            pending = store.next_pending(conn, backfill.backfill_id, max(free, 1))
    if job is None:
        _finish(db, backfill.backfill_id, "CANCELED")
        return []
    if not pending:
        if active == 0:
            _finish(db, backfill.backfill_id, "DONE")
        return []
    return _start(coordinator, backfill, settings, version, pending[: max(free, 0)])


def _start(
    coordinator: Coordinator,
    backfill: store.Backfill,
    settings: JobSettings,
    version: int | None,
    dates: list[tuple[int, int]],
) -> list[int]:
    """Create the runs of `dates` ((ordinal, logical time) pairs) in one transaction."""
    if not dates:
        return []

    def claim(conn: Connection, run_ids: list[int]) -> None:
        taken = [(ordinal, run_id) for (ordinal, _), run_id in zip(dates, run_ids, strict=True)]
        if not store.claim_dates(conn, backfill.backfill_id, taken):
            raise _DateTaken()  # another process pumps this backfill: it starts them

    parameters = backfill.options.get("parameters") or {}
    new_runs = [
        NewRun(
            parameters,
            {
                "scheduled_time": logical,
                "backfill": {"backfill_id": backfill.backfill_id, "logical_time": logical},
            },
        )
        for _, logical in dates
    ]
    try:
        return coordinator.start_runs(
            settings,
            new_runs,
            job_id=backfill.job_id,
            trigger_type="BACKFILL",
            run_as=backfill.created_by,
            job_version=version,
            queue=True,
            on_created=claim,
        )
    except _DateTaken:
        return []


def _finish(db: Store, backfill_id: int, state: str) -> None:
    with db.begin() as conn:
        if store.set_state(conn, backfill_id, state, now_ms()) and state == "CANCELED":
            store.cancel_pending(conn, backfill_id)


def cancel_backfill(
    db: Store, coordinator: Coordinator, who: Principal | None, backfill_id: int
) -> list[Attempt]:
    """Cancel a backfill as a whole: no new dates, its active runs canceled (needs
    CAN_MANAGE_RUN on the job). Returns the attempts to kill. Raises: NotFound, ..."""
    with db.begin() as conn:
        backfill = store.get_backfill(conn, backfill_id)
        if who is not None:
            job_service.require(conn, who, backfill.job_id, "CAN_MANAGE_RUN")
        if store.set_state(conn, backfill_id, "CANCELED", now_ms()):
            store.cancel_pending(conn, backfill_id)
        active = store.active_runs(conn, backfill_id)
    by = who.user_name if who is not None else "the user"
    to_kill: list[Attempt] = []
    for run_id in active:
        to_kill += coordinator.cancel_run(run_id, f"backfill {backfill_id} was canceled by {by}")
    return to_kill


def get_progress(db: Store, who: Principal | None, backfill_id: int) -> dict[str, Any]:
    """A backfill with its counts and dates (needs CAN_VIEW on the job). Raises: NotFound."""
    with db.read() as conn:
        backfill = store.get_backfill(conn, backfill_id)
        if who is not None:
            job_service.require(conn, who, backfill.job_id, "CAN_VIEW")
        return progress_of(conn, backfill)


def list_progress(
    db: Store, who: Principal | None, job_id: int | None = None, *, with_dates: bool = False
) -> list[dict[str, Any]]:
    """Backfills newest first (of the jobs `who` may view), with their counts."""
    with db.read() as conn:
        out = []
        for backfill in store.list_backfills(conn, job_id):
            if who is not None and not _may_view(conn, who, backfill.job_id):
                continue
            data = progress_of(conn, backfill)
            if not with_dates:
                data.pop("dates")
            out.append(data)
        return out


def _may_view(conn: Connection, who: Principal, job_id: int) -> bool:
    try:
        job_service.require(conn, who, job_id, "CAN_VIEW")
        return True
    except HeadraceError:
        return False


def date_state(row: dict[str, Any]) -> str:
    """What became of one logical date: PENDING, QUEUED, RUNNING, SUCCEEDED, FAILED,
    CANCELED or SKIPPED."""
    if row["state"] != "STARTED":
        return str(row["state"])
    life, result = row["life_cycle_state"], row["result_state"]
    if result is None:
        return "QUEUED" if life == "QUEUED" else "RUNNING"
    if result in ("SUCCESS", "SUCCESS_WITH_FAILURES"):
        return "SUCCEEDED"
    return "FAILED" if result in _FAILED else "CANCELED"


def progress_of(conn: Connection, backfill: store.Backfill) -> dict[str, Any]:
    dates = []
    counts = dict.fromkeys(
        ("PENDING", "QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELED", "SKIPPED"), 0
    )
    for row in store.dates_of(conn, backfill.backfill_id):
        state = date_state(row)
        counts[state] += 1
        item = {"logical_date": iso(row["logical_time"]), "state": state, "run_id": row["run_id"]}
        if row["note"]:
            item["note"] = row["note"]
        dates.append(item)
    return {
        "backfill_id": backfill.backfill_id,
        "job_id": backfill.job_id,
        "state": backfill.state,
        "created_by": backfill.created_by,
        "created_time": backfill.created_time,
        "end_time": backfill.end_time,
        "max_concurrent": backfill.max_concurrent,
        **{k: backfill.options.get(k) for k in ("from", "to", "every", "schedule", "reverse")},
        "rerun": backfill.options.get("rerun", False),
        "job_parameters": backfill.options.get("parameters") or {},
        "total": len(dates),
        "counts": {k.lower(): v for k, v in counts.items()},
        "dates": dates,
    }
