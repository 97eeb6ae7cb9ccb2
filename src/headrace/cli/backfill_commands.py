"""`headrace jobs backfill JOB` and `headrace backfills list|get|cancel` (issue 16).

With a `headrace server` on the store, the command only records the backfill: the server's
coordinator starts its runs. Without one, this process runs it to its end (like `headrace
run`), printing each date as it ends; Ctrl-C cancels the whole backfill.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from headrace.config import Settings
from headrace.store.db import Store, open_store

_POLL_SECONDS = 0.5


def backfill(
    target: str,
    *,
    start: str,
    end: str,
    every: str | None,
    max_concurrent: int,
    reverse: bool,
    params: dict[str, str],
    rerun: bool,
    detach: bool,
    as_json: bool,
    db: str | None,
) -> int:
    """Create a backfill and (unless a server runs it or --detach) run it. Returns the exit
    code: 0 when every date succeeded or was skipped, 1 otherwise."""
    from headrace.cli.plan_command import _job_id
    from headrace.engine import backfill as backfills

    settings = Settings.load(db=db)
    store = open_store(settings.db_url)
    req = backfills.BackfillRequest(
        job_id=_job_id(store, target),
        start=start,
        end=end,
        every=every,
        max_concurrent=max_concurrent,
        reverse=reverse,
        parameters=params,
        rerun=rerun,
    )
    created = backfills.create_backfill(store, None, req)
    backfill_id = created["backfill_id"]
    if not as_json:
        counts = created["counts"]
        print(
            f"backfill {backfill_id} of job {created['job_id']}: {created['total']} dates"
            f" ({counts['pending']} to run, {counts['skipped']} skipped as already done)",
            file=sys.stderr,
        )
    if detach or _server_holds(store):
        if not as_json:
            print(
                f"the server coordinating this store runs it: headrace backfills get {backfill_id}",
                file=sys.stderr,
            )
        _print(backfills.get_progress(store, None, backfill_id), as_json)
        return 0
    final = _run_locally(store, settings, backfill_id, quiet=as_json)
    _print(final, as_json)
    ok = final["state"] == "DONE" and not (final["counts"]["failed"] or final["counts"]["canceled"])
    return 0 if ok else 1


def _server_holds(store: Store) -> bool:
    from headrace.store.leader import Leadership

    lock = Leadership(store)
    try:
        return not lock.try_acquire()
    finally:
        lock.release()


def _run_locally(store: Store, settings: Settings, backfill_id: int, *, quiet: bool) -> dict:
    """Coordinate and execute the backfill in this process until it is over.

    Every run this process drives advances in its worker pool; this loop only starts new dates
    when a run ends, fires retry and timeout timers, and turns Ctrl-C / SIGTERM into a cancel
    of the whole backfill."""
    import signal
    import threading

    from headrace.engine import backfill as backfills
    from headrace.engine.coordinator import now_ms
    from headrace.store import backfills as backfill_store
    from headrace.store import runs as run_store
    from headrace.worker.local import LocalRunner

    shown: dict[str, str] = {}
    wake = threading.Event()
    interrupted: list[int] = []

    def on_signal(signum: int, _frame: Any) -> None:
        interrupted.append(signum)
        wake.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with LocalRunner(store, settings) as runner:
            runner.coordinator.subscribe(
                lambda change: wake.set() if change.run_ended or change.timers_changed else None
            )
            canceled = False
            while True:
                if interrupted and not canceled:
                    canceled = True
                    coordinator = runner.coordinator
                    for attempt in backfills.cancel_backfill(store, coordinator, None, backfill_id):
                        runner.pool.kill(attempt.attempt_id, "CANCELED")
                backfills.pump(store, runner.coordinator, only=backfill_id)
                progress = backfills.get_progress(store, None, backfill_id)
                if not quiet:
                    _report(progress, shown)
                with store.read() as conn:
                    active = backfill_store.active_runs(conn, backfill_id)
                    wake_at = run_store.next_timer_at(conn, runner.worker_id)
                if not active:
                    # Read again: a run may have ended between the progress read above and
                    # this look at the active runs, and the last word must be its end.
                    progress = backfills.get_progress(store, None, backfill_id)
                    if progress["state"] != "RUNNING":
                        return progress
                if progress["counts"]["queued"]:
                    runner.coordinator.admit_queued(progress["job_id"])
                runner.pool.wake()
                wait = _POLL_SECONDS if wake_at is None else (wake_at - now_ms()) / 1000
                wake.wait(min(max(wait, 0.0), _POLL_SECONDS))
                wake.clear()
                with store.read() as conn:
                    due = run_store.runs_with_due_timers(conn, now_ms(), runner.worker_id)
                for run_id in due:
                    for attempt in runner.coordinator.fire_timers(run_id):
                        runner.pool.kill(attempt.attempt_id, "TIMEDOUT")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _report(progress: dict[str, Any], shown: dict[str, str]) -> None:
    for item in progress["dates"]:
        state = item["state"]
        if state in ("PENDING", "SKIPPED") or shown.get(item["logical_date"]) == state:
            continue
        shown[item["logical_date"]] = state
        run = f" run {item['run_id']}" if item["run_id"] else ""
        print(f"  {item['logical_date']}: {state}{run}", file=sys.stderr)


def _print(progress: dict[str, Any], as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(progress, indent=2) + "\n")
        return
    counts = ", ".join(f"{v} {k}" for k, v in progress["counts"].items() if v)
    print(f"backfill {progress['backfill_id']}: {progress['state']} ({counts})")


def list_backfills(db: str | None, job: str | None, *, as_json: bool) -> None:
    from headrace.cli.plan_command import _job_id
    from headrace.engine import backfill as backfills

    store = open_store(Settings.load(db=db).db_url)
    job_id = _job_id(store, job) if job is not None else None
    found = backfills.list_progress(store, None, job_id)
    if as_json:
        sys.stdout.write(json.dumps({"backfills": found}, indent=2) + "\n")
        return
    for b in found:
        done = b["counts"]["succeeded"] + b["counts"]["skipped"]
        print(
            f"{b['backfill_id']}\tjob {b['job_id']}\t{b['state']}\t{b['from']} .. {b['to']}"
            f"\t{done}/{b['total']} done, {b['counts']['failed']} failed"
        )


def get_backfill(db: str | None, backfill_id: int, *, as_json: bool) -> None:
    from headrace.engine import backfill as backfills

    store = open_store(Settings.load(db=db).db_url)
    progress = backfills.get_progress(store, None, backfill_id)
    if as_json:
        _print(progress, True)
        return
    _print(progress, False)
    for item in progress["dates"]:
        note = f" ({item['note']})" if "note" in item else ""
        run = f" run {item['run_id']}" if item["run_id"] else ""
        print(f"  {item['logical_date']}: {item['state']}{run}{note}")


def cancel(db: str | None, backfill_id: int) -> None:
    """Cancel from the CLI: its runs' attempts are killed by the processes that run them."""
    from headrace.engine import backfill as backfills
    from headrace.engine.coordinator import Coordinator

    store = open_store(Settings.load(db=db).db_url)
    backfills.cancel_backfill(store, Coordinator(store), None, backfill_id)
    print(f"backfill {backfill_id} canceled")
