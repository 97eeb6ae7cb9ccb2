"""Backfill of 365 dates (issue 16: its runs created in under 2 s).

On a fresh SQLite store: times `create_backfill` of a year of daily dates (the dates stored,
idempotency checked), then one `pump` that creates all 365 runs at once (max_concurrent 365,
the job's max_concurrent_runs 1000), i.e. every run, task run and first attempt written. The
pump creates them in one transaction (`Coordinator.start_runs`). Each repetition uses a new
store; the machine's load average is printed with the figures.

    python bench/backfill.py [--dates 365] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from headrace.config import database_url
from headrace.engine.backfill import BackfillRequest, create_backfill, pump
from headrace.engine.coordinator import Coordinator, now_ms
from headrace.store import jobs as job_store
from headrace.store.db import open_store


def once(dates: int) -> tuple[float, float, float]:
    """(seconds to store the dates, seconds to create the runs, CPU seconds of the latter)."""
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(database_url(str(Path(tmp) / "bench.db"), Path(tmp)))
        settings = {
            "name": "daily",
            "max_concurrent_runs": 1000,
            "tasks": [{"task_key": "t", "shell_command_task": {"command": "true"}}],
        }
        with store.begin() as conn:
            job_id = job_store.create_job(conn, settings, now_ms=now_ms())
        start = datetime(2025, 1, 1, tzinfo=UTC)
        end = start + timedelta(days=dates - 1)
        req = BackfillRequest(
            job_id=job_id,
            start=start.date().isoformat(),
            end=end.date().isoformat(),
            every="1d",
            max_concurrent=dates,
        )
        began = time.perf_counter()
        created = create_backfill(store, None, req)
        stored = time.perf_counter() - began
        began, began_cpu = time.perf_counter(), time.process_time()
        runs = pump(store, Coordinator(store, coordinator_id="bench"))
        pumped, pumped_cpu = time.perf_counter() - began, time.process_time() - began_cpu
        assert created["total"] == dates and len(runs) == dates, (created, len(runs))
        store.dispose()
        return stored, pumped, pumped_cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dates", type=int, default=365)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    results = []
    for _ in range(args.repeat):
        stored, pumped, cpu = once(args.dates)
        results.append(pumped)
        print(
            f"backfill of {args.dates} dates: stored in {stored:.3f} s; its runs created in"
            f" {pumped:.3f} s (CPU {cpu:.3f} s)"
        )
    load = "/".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"median of {args.repeat}: runs created in {statistics.median(results):.3f} s"
        f"  (load average 1/5/15 min: {load})"
    )


if __name__ == "__main__":
    main()
