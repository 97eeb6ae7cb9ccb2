"""The UI's jobs list over 1,000 jobs with 10 runs each (issue 17: under 200 ms).

Times `views.job_rows` (the store reads) and the rendering of the table's rows, in process on a
SQLite file store (or --url for PostgreSQL).

    python bench/ui_jobs.py [--jobs 1000] [--repeat 5] [--url postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from headrace.engine import jobs as job_service
from headrace.engine.jobs import Principal
from headrace.store import runs as run_store
from headrace.store.db import open_store
from headrace.ui import views
from headrace.ui.routes import _templates


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--url")
    args = parser.parse_args()
    tmp = tempfile.mkdtemp()
    store = open_store(args.url or f"sqlite:///{Path(tmp) / 'bench.db'}")
    who = Principal("alice")
    task = {"task_key": "t", "shell_command_task": {"command": "true"}}
    schedule = {"quartz_cron_expression": "0 0 2 * * ?", "timezone_id": "UTC"}
    for i in range(args.jobs):
        job_id = job_service.create_job(
            store, who, {"name": f"job {i}", "tasks": [task], "schedule": schedule}
        )
        with store.begin() as conn:
            ids = run_store.allocate_ids(conn, 10)
            for k, run_id in enumerate(ids):
                run_store.insert_run(
                    conn,
                    run_id=run_id,
                    job_id=job_id,
                    run_name=f"job {i}",
                    run_type="JOB_RUN",
                    trigger_type="PERIODIC",
                    settings=json.dumps({}),
                    job_parameters="[]",
                    life_cycle_state="TERMINATED",
                    result_state="SUCCESS",
                    state_message="",
                    created_time=1000 * k,
                    start_time=1000 * k,
                    end_time=1000 * k + 500,
                )
    template = _templates().get_template("_job_rows.html")
    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        rows = views.job_rows(store, who, "", int(time.time() * 1000))
        t1 = time.perf_counter()
        template.render(rows=rows, csrf="x")
        t2 = time.perf_counter()
        times.append((t1 - t0, t2 - t1))
    best = min(times, key=sum)
    print(
        f"{len(rows)} jobs: reads {best[0] * 1000:.0f} ms, render {best[1] * 1000:.0f} ms, "
        f"total {sum(best) * 1000:.0f} ms (best of {args.repeat})"
    )


if __name__ == "__main__":
    main()
