"""The floor on this machine: what a durable, process-per-task engine on PostgreSQL could reach.

No Headrace here. `--workers` processes each loop as tightly as plain psycopg allows:

1. claim: one transaction, one statement (`UPDATE ... WHERE id = (SELECT ... FOR UPDATE SKIP
   LOCKED LIMIT 1) RETURNING`), commit;
2. run the task: `os.posix_spawn` of `true` (`--no-process` skips it) and wait for it;
3. end: one transaction with two statements (the task's end, the count-down of a dependent
   row), commit.

That is less than any real engine does per task (no run state, no logs, no attempt history, no
dependency planning, no output capture), so its tasks/s is an upper bound for Headrace with the
same number of worker processes on the same cores, and its CPU per task is a lower bound.
Tables live in a fresh schema, dropped afterwards.

    python bench/pg_floor.py [--workers 4] [--tasks 4000] [--pg URL] [--no-process]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import time
import uuid

PG_URL = os.environ.get("HEADRACE_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")

CLAIM = """
UPDATE floor_task SET state = 'RUNNING', worker = %s
WHERE id = (SELECT id FROM floor_task WHERE state = 'QUEUED' ORDER BY id
            LIMIT 1 FOR UPDATE SKIP LOCKED)
RETURNING id
"""
END = "UPDATE floor_task SET state = 'SUCCESS' WHERE id = %s"
COUNT_DOWN = "UPDATE floor_join SET waiting = waiting - 1 WHERE id = %s"


def worker(
    url: str,
    schema: str,
    name: str,
    spawn: bool,
    started: object,
    finished: object,
    measured: object,
) -> None:
    import psycopg

    true = "/bin/true"
    with psycopg.connect(url, options=f"-c search_path={schema}") as conn:
        started.wait()  # type: ignore[attr-defined]
        while True:
            with conn.transaction():
                row = conn.execute(CLAIM, (name,)).fetchone()
            if row is None:
                break
            if spawn:
                pid = os.posix_spawn(true, [true], os.environ)
                os.waitpid(pid, 0)
            with conn.transaction():
                conn.execute(END, row)
                conn.execute(COUNT_DOWN, (row[0] % 16,))
        finished.release()  # type: ignore[attr-defined]
        # The backend stays until PostgreSQL's CPU is read: an ended backend's CPU is gone.
        measured.wait()  # type: ignore[attr-defined]


def postgres_cpu() -> float:
    """CPU seconds of every PostgreSQL process (the backends and the writers)."""
    import psutil

    total = 0.0
    for proc in psutil.process_iter(["name", "cpu_times"]):
        if proc.info["name"] and proc.info["name"].startswith("postgres"):
            times = proc.info["cpu_times"]
            total += times.user + times.system
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--tasks", type=int, default=4000)
    parser.add_argument("--pg", default=PG_URL)
    parser.add_argument("--no-process", action="store_true")
    args = parser.parse_args()

    import psycopg

    schema = f"floor_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(args.pg, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
        admin.execute(f"SET search_path = {schema}")
        admin.execute("CREATE TABLE floor_task (id int PRIMARY KEY, state text, worker text)")
        admin.execute("CREATE TABLE floor_join (id int PRIMARY KEY, waiting int)")
        admin.execute(
            "INSERT INTO floor_task SELECT g, 'QUEUED', NULL FROM generate_series(1, %s) g",
            (args.tasks,),
        )
        admin.execute("INSERT INTO floor_join SELECT g, 1000000 FROM generate_series(0, 15) g")
        admin.execute("ANALYZE floor_task")
    try:
        started = multiprocessing.Event()
        measured = multiprocessing.Event()
        finished = multiprocessing.Semaphore(0)
        procs = [
            multiprocessing.Process(
                target=worker,
                args=(args.pg, schema, f"w{i}", not args.no_process, started, finished, measured),
            )
            for i in range(args.workers)
        ]
        for proc in procs:
            proc.start()
        time.sleep(1.0)  # connections open before the clock starts
        pg_before = postgres_cpu()
        t0 = time.perf_counter()
        started.set()
        for _ in procs:
            finished.acquire()
        wall = time.perf_counter() - t0
        pg_cpu = postgres_cpu() - pg_before
        measured.set()
        for proc in procs:
            proc.join()
        # The workers' CPU with their `true` processes: both are reaped by now.
        own = resource.getrusage(resource.RUSAGE_CHILDREN)
        worker_cpu = own.ru_utime + own.ru_stime
    finally:
        with psycopg.connect(args.pg, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")
    n = args.tasks
    print(
        f"floor: {args.workers} workers, {n} tasks{' (no process)' if args.no_process else ''}:"
        f" wall {wall:.2f} s  {n / wall:.0f} tasks/s  cpu ms/task: workers (with `true`)"
        f" {worker_cpu / n * 1000:.2f}, postgres {pg_cpu / n * 1000:.2f}"
        f"  load {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
