"""`headrace db copy` of a store with 100,000 task runs (issue 16: under a minute).

Fills a fresh SQLite store with N runs of 10 tasks each (one attempt per task run, a 300-byte
payload, like a real attempt's), then times `store.copy.copy_store` SQLite -> PostgreSQL (a
schema made for the bench and dropped after) and PostgreSQL -> a new SQLite file.

    python bench/db_copy.py [--task-runs 100000] [--pg postgresql://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import text

from headrace.config import database_url
from headrace.store.copy import copy_store
from headrace.store.db import open_store
from headrace.store.schema import FIRST_ID, attempts, counters, jobs, runs, task_runs


def fill(url: str, task_runs_wanted: int, per_run: int = 10) -> None:
    store = open_store(url)
    now = int(time.time() * 1000)
    settings = json.dumps({"name": "bench", "tasks": [{"task_key": f"t{i}"} for i in range(10)]})
    payload = json.dumps({"task_type": "shell_command_task", "settings": {"command": "x" * 200}})
    n_runs = task_runs_wanted // per_run
    next_id = FIRST_ID
    with store.begin() as conn:
        conn.execute(jobs.insert(), [{"job_id": 1, "name": "bench", "settings": settings,
                                      "created_time": now}])  # fmt: skip
        for start in range(0, n_runs, 1000):
            run_rows, tr_rows, at_rows = [], [], []
            for _ in range(start, min(start + 1000, n_runs)):
                run_id = next_id
                next_id += 1
                run_rows.append({
                    "run_id": run_id, "job_id": 1, "run_name": "bench", "run_type": "JOB_RUN",
                    "trigger_type": "ONE_TIME", "settings": settings, "job_parameters": "[]",
                    "life_cycle_state": "TERMINATED", "result_state": "SUCCESS",
                    "state_message": "", "repair_count": 0, "created_time": now,
                    "start_time": now, "end_time": now,
                })  # fmt: skip
                for k in range(per_run):
                    tr_id = next_id
                    next_id += 1
                    tr_rows.append({
                        "task_run_id": tr_id, "run_id": run_id, "task_key": f"t{k}",
                        "current": True, "life_cycle_state": "TERMINATED",
                        "result_state": "SUCCESS", "state_message": "", "waiting_on": 0,
                        "attempt_number": 0, "start_time": now, "end_time": now,
                    })  # fmt: skip
                    at_rows.append({
                        "task_run_id": tr_id, "run_id": run_id, "attempt_number": 0,
                        "state": "TERMINATED", "result_state": "SUCCESS", "payload": payload,
                        "created_time": now, "start_time": now, "end_time": now, "exit_code": 0,
                    })  # fmt: skip
            conn.execute(runs.insert(), run_rows)
            conn.execute(task_runs.insert(), tr_rows)
            conn.execute(attempts.insert(), at_rows)
        conn.execute(counters.update().where(counters.c.name == "run_id").values(value=next_id))
    store.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--task-runs", type=int, default=100_000)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    schema = f"hr_bench_{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        sqlite_url = database_url(str(home / "source.db"), home)
        started = time.perf_counter()
        fill(sqlite_url, args.task_runs)
        print(f"filled {args.task_runs} task runs in {time.perf_counter() - started:.1f} s")
        admin = open_store(database_url(args.pg, home), migrate=False)
        with admin.engine.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        pg_url = database_url(args.pg, home) + f"?options=-csearch_path%3D{schema}"
        try:
            for name, src, dst in (
                ("SQLite -> PostgreSQL", sqlite_url, pg_url),
                ("PostgreSQL -> SQLite", pg_url, database_url(str(home / "back.db"), home)),
            ):
                source, target = open_store(src, migrate=False), open_store(dst, migrate=False)
                started = time.perf_counter()
                copied = copy_store(source, target)
                took = time.perf_counter() - started
                rows = sum(c.target_rows for c in copied)
                print(f"{name}: {rows} rows ({args.task_runs} task runs) in {took:.1f} s")
                source.dispose()
                target.dispose()
        finally:
            with admin.engine.begin() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            admin.dispose()


if __name__ == "__main__":
    main()
