"""Statements, commits and CPU per task of the store on PostgreSQL, in one process (issue 18).

A fresh PostgreSQL schema (dropped afterwards); `--runs` runs of a 1 -> `--width` -> 1 job of
shell tasks are started with `Coordinator.start_run`, then one worker slot is simulated: it
claims an attempt and reports each end with `finish_attempt(..., claim_for=...)` (the end and
the next claim in one transaction, as `worker/pool.py` does), with a stored log as on
PostgreSQL, until nothing is left. No process runs, no server: what is counted is the store's
work for each task's end and the next claim. Statements are counted at psycopg's cursor
(SQL text and SQLAlchemy constructs alike), CPU is this process's
(Python) and its PostgreSQL backends' (from /proc, found by application_name). `--before SRC`
runs the same with another revision's `src/` first (e.g. a `git worktree`), for before/after in
the same minutes.

    python bench/pg_statements.py [--runs 50] [--width 8] [--repeat 3] [--verbose] [--before SRC]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from typing import Any

PG_URL = os.environ.get("HEADRACE_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def measure(runs: int, width: int, verbose: bool) -> dict[str, Any]:
    import psutil
    import psycopg

    from headrace.engine.coordinator import AttemptOutcome, Coordinator
    from headrace.spec.loader import parse_job_settings
    from headrace.states import Result
    from headrace.store.db import open_store

    schema = f"hr_stmts_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_URL, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    counts: collections.Counter[str] = collections.Counter()
    execute, executemany, commit = (
        psycopg.Cursor.execute,
        psycopg.Cursor.executemany,
        psycopg.Connection.commit,
    )

    def text(query: Any) -> str:
        return " ".join((query.decode() if isinstance(query, bytes) else str(query)).split())

    def counted(self: Any, query: Any, params: Any = None, **kw: Any) -> Any:
        counts[text(query)[:100]] += 1
        return execute(self, query, params, **kw)

    def counted_many(self: Any, query: Any, params: Any, **kw: Any) -> Any:
        counts["(many) " + text(query)[:93]] += 1
        return executemany(self, query, params, **kw)

    def counted_commit(self: Any) -> None:
        counts["COMMIT"] += 1
        commit(self)

    monitor = psycopg.connect(PG_URL, autocommit=True)

    def backend_cpu() -> float:
        rows = monitor.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s", (schema,)
        )
        total = 0.0
        for (pid,) in rows:
            t = psutil.Process(pid).cpu_times()
            total += t.user + t.system
        return total

    try:
        driver = PG_URL.replace("postgresql://", "postgresql+psycopg://", 1)
        sep = "&" if "?" in driver else "?"
        store = open_store(
            f"{driver}{sep}options=-csearch_path%3D{schema}&application_name={schema}"
        )
        coordinator = Coordinator(store, coordinator_id=None)
        shell = {"shell_command_task": {"command": "true"}}
        mids = [f"t{i}" for i in range(width)]
        tasks = [{"task_key": "start", **shell}]
        tasks += [{"task_key": m, **shell, "depends_on": [{"task_key": "start"}]} for m in mids]
        tasks += [{"task_key": "end", **shell, "depends_on": [{"task_key": m} for m in mids]}]
        settings = parse_job_settings({"name": "fan", "tasks": tasks, "max_concurrent_runs": 1000})
        log = (b"", 0)  # a worker on PostgreSQL stores each attempt's log

        try:  # a worker's log paths (on PostgreSQL the claim computes them in SQL)
            from headrace.store.attempts import LogPaths

            log_path: Any = LogPaths("/tmp/headrace-logs")
        except ImportError:  # a `--before` revision without it
            log_path = lambda _a: "/tmp/output.log"  # noqa: E731

        def drain() -> int:
            claim_for = ("w1", log_path, None)
            attempt = coordinator.claim_next_attempt("w1", claim_for[1])
            done = 0
            while attempt is not None:
                outcome = AttemptOutcome(Result.SUCCESS, exit_code=0, log=log)
                attempt = coordinator.finish_attempt(attempt, outcome, claim_for=claim_for)
                done += 1
            return done

        for _ in range(3):  # warm-up: connections, prepared statements, plan cache
            coordinator.start_run(settings, job_id=None)
        drain()
        psycopg.Cursor.execute, psycopg.Cursor.executemany = counted, counted_many  # type: ignore[method-assign]
        psycopg.Connection.commit = counted_commit  # type: ignore[method-assign]
        try:
            cpu0 = time.process_time()
            for _ in range(runs):
                coordinator.start_run(settings, job_id=None)
            start_cpu = time.process_time() - cpu0
            starting = dict(counts)
            counts.clear()
            pg0 = backend_cpu()
            counts.clear()  # not the monitor's own query
            cpu0, wall0 = time.process_time(), time.perf_counter()
            done = drain()
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        finally:
            psycopg.Cursor.execute, psycopg.Cursor.executemany = execute, executemany  # type: ignore[method-assign]
            psycopg.Connection.commit = commit  # type: ignore[method-assign]
        pg = backend_cpu() - pg0
        assert done == runs * (width + 2), done
        store.dispose()
    finally:
        monitor.close()
        with psycopg.connect(PG_URL, autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    commits = counts.pop("COMMIT", 0)
    starting_commits = starting.pop("COMMIT", 0)
    return {
        "statements_per_task": sum(counts.values()) / done,
        "commits_per_task": commits / done,
        "python_ms_per_task": cpu * 1000 / done,
        "backend_ms_per_task": pg * 1000 / done,
        "wall_ms_per_task": wall * 1000 / done,
        "statements_per_run_start": sum(starting.values()) / runs,
        "commits_per_run_start": starting_commits / runs,
        "python_ms_per_run_start": start_cpu * 1000 / runs,
        "statements": {k: v / done for k, v in counts.most_common()} if verbose else {},
        "start_statements": {k: v / runs for k, v in starting.items()} if verbose else {},
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--width", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--verbose", action="store_true", help="list the statements")
    parser.add_argument("--before", metavar="SRC", help="another revision's src/ to run first")
    parser.add_argument("--once", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.once:
        print(json.dumps(measure(args.runs, args.width, args.verbose)))
        return
    sides = {"before": args.before, "after": None} if args.before else {"now": None}
    results: dict[str, list[dict[str, Any]]] = {side: [] for side in sides}
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"{args.runs} runs of 1 -> {args.width} -> 1, median of {args.repeat}, load {load}")
    for _ in range(args.repeat):
        for side, src in sides.items():  # taking turns: the same minutes for both
            env = dict(os.environ)
            if src:
                env["PYTHONPATH"] = src
            argv = [sys.executable, __file__, "--once", "--runs", str(args.runs)]
            argv += ["--width", str(args.width)] + (["--verbose"] if args.verbose else [])
            out = subprocess.run(argv, env=env, check=True, capture_output=True, text=True)
            results[side].append(json.loads(out.stdout))
    for side, rs in results.items():
        med = {
            k: statistics.median(r[k] for r in rs) for k in rs[0] if not isinstance(rs[0][k], dict)
        }
        print(
            f"{side:>6}: per task end + next claim: {med['statements_per_task']:.2f} statements,"
            f" {med['commits_per_task']:.2f} commits, Python {med['python_ms_per_task']:.3f} ms,"
            f" PostgreSQL backend {med['backend_ms_per_task']:.3f} ms;"
            f" per run start: {med['statements_per_run_start']:.1f} statements,"
            f" Python {med['python_ms_per_run_start']:.2f} ms"
        )
        if args.verbose:
            for text, n in rs[-1]["statements"].items():
                print(f"        {n:5.2f}  {text}")
            for text, n in rs[-1]["start_statements"].items():
                print(f"  start {n:5.2f}  {text}")


if __name__ == "__main__":
    main()
