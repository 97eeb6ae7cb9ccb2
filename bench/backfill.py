"""Backfill of 365 dates (issue 16: its runs created in under 2 s).

On a fresh SQLite store: times `create_backfill` of a year of daily dates (the dates stored,
idempotency checked), then one `pump` that creates all 365 runs at once (max_concurrent 365,
the job's max_concurrent_runs 1000), i.e. every run, task run and first attempt written.

    python bench/backfill.py [--dates 365]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from headrace.config import database_url
from headrace.engine.backfill import BackfillRequest, create_backfill, pump
from headrace.engine.coordinator import Coordinator, now_ms
from headrace.store import jobs as job_store
from headrace.store.db import open_store


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dates", type=int, default=365)
    args = parser.parse_args()
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
        end = start + timedelta(days=args.dates - 1)
        req = BackfillRequest(
            job_id=job_id,
            start=start.date().isoformat(),
            end=end.date().isoformat(),
            every="1d",
            max_concurrent=args.dates,
        )
        began = time.perf_counter()
        created = create_backfill(store, None, req)
        stored = time.perf_counter() - began
        began, began_cpu = time.perf_counter(), time.process_time()
        runs = pump(store, Coordinator(store, coordinator_id="bench"))
        pumped, pumped_cpu = time.perf_counter() - began, time.process_time() - began_cpu
        assert created["total"] == args.dates and len(runs) == args.dates, (created, len(runs))
        print(
            f"backfill of {args.dates} dates: stored in {stored:.3f} s; its {len(runs)} runs"
            f" created in {pumped:.3f} s (CPU {pumped_cpu:.3f} s; {stored + pumped:.3f} s in all)"
        )
        store.dispose()


if __name__ == "__main__":
    main()
