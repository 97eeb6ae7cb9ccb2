"""Where a live `headrace worker`'s CPU per task goes, measured inside the PostgreSQL bench.

Runs `bench/postgres_throughput.py` (its arguments pass through) with every `headrace`
process started through a shim that instruments the worker in-process, then prints, per
worker and summed: the slot threads' own CPU (`time.thread_time`) per task in
`finish_attempt` (the task's end with the next claim: store and engine) and in `run_attempt`
(folders, files, the process, its log), the statements and commits a task end sends (at
psycopg's cursor), how often the end reads a run's settings (a worker's first touch of a
run), runs the progress check's query, or is redone FOR UPDATE (`RunLockNeeded`), and the
claims by idle slots and NOTIFY wake-ups per task.

    python bench/worker_parts.py [postgres_throughput.py arguments, e.g. --runs 100 --no-w3]

The counters cover the warm-up too; per-task figures divide by the task ends each worker
reported. `bench/pg_statements.py` measures the same task end in one process, without
other processes competing for the two cores; the difference is what the competition costs.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PARTS_DIR_ENV = "BENCH_WORKER_PARTS_DIR"  # cluster.py passes no HEADRACE_* on


def instrument(out_dir: str) -> None:
    """Count and time a worker's parts in this process; write them every 0.5 s."""
    import psycopg

    from headrace.engine import attempts
    from headrace.store import progress
    from headrace.store import runs as run_store
    from headrace.worker import pool

    counts: Counter[str] = Counter()
    cpu: Counter[str] = Counter()
    local = threading.local()

    def timed(name: str, fn: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            t0 = time.thread_time()
            local.part = name
            try:
                return fn(*args, **kwargs)
            finally:
                local.part = None
                cpu[name] += time.thread_time() - t0
                counts[name] += 1

        return wrapper

    def counted(name: str, fn: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            counts[name] += 1
            return fn(*args, **kwargs)

        return wrapper

    execute, commit = psycopg.Cursor.execute, psycopg.Connection.commit

    def counted_execute(self: Any, *args: Any, **kwargs: Any) -> Any:
        if getattr(local, "part", None) == "finish":
            counts["finish statements"] += 1
        return execute(self, *args, **kwargs)

    def counted_commit(self: Any) -> None:
        if getattr(local, "part", None) == "finish":
            counts["finish commits"] += 1
        commit(self)

    finish_in_tx = attempts.Attempts._finish_in_tx

    def finish_counted(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return finish_in_tx(self, *args, **kwargs)
        except attempts.RunLockNeeded:
            counts["RunLockNeeded redo"] += 1
            raise

    claim = attempts.Attempts.claim_next_attempt

    def claim_counted(self: Any, *args: Any, **kwargs: Any) -> Any:
        found = claim(self, *args, **kwargs)
        counts["idle claim"] += 1
        counts["idle claim empty"] += found is None
        return found

    psycopg.Cursor.execute = counted_execute  # type: ignore[method-assign]
    psycopg.Connection.commit = counted_commit  # type: ignore[method-assign]
    attempts.Attempts._finish_in_tx = finish_counted  # type: ignore[method-assign]
    attempts.Attempts.claim_next_attempt = claim_counted  # type: ignore[method-assign]
    attempts.Attempts.finish_attempt = timed("finish", attempts.Attempts.finish_attempt)  # type: ignore[method-assign]
    pool.run_attempt = timed("run_attempt", pool.run_attempt)
    pool.pack_log = timed("pack_log", pool.pack_log)
    pool.WorkerPool.wake = counted("wake", pool.WorkerPool.wake)  # type: ignore[method-assign]
    run_store.run_settings_unlocked = counted("settings read", run_store.run_settings_unlocked)
    progress.stuck_task_runs = counted("progress check", progress.stuck_task_runs)

    def dump() -> None:
        while True:
            time.sleep(0.5)
            if counts["finish"]:
                data = {"counts": dict(counts), "cpu": dict(cpu)}
                Path(out_dir, f"{os.getpid()}.txt").write_text(repr(data))

    threading.Thread(target=dump, daemon=True).start()


def summary(out_dir: Path) -> None:
    workers = [ast.literal_eval(p.read_text()) for p in sorted(out_dir.glob("*.txt"))]
    total: Counter[str] = Counter()
    for data in workers:
        total.update({f"cpu {k}": v for k, v in data["cpu"].items()})
        total.update(data["counts"])
    rows = [*(("worker", w) for w in workers), ("all", None)]
    print(
        f"{'':8} {'task ends':>9} {'finish ms':>9} {'run_attempt ms':>14} {'statements':>10} "
        f"{'commits':>7} {'settings':>8} {'progress':>8} {'redo':>5} {'idle claims':>11} "
        f"{'wakes':>6}   (per task end)"
    )
    for name, data in rows:
        c = Counter(data["counts"]) if data else total
        t = (
            Counter(data["cpu"])
            if data
            else Counter({k[4:]: v for k, v in total.items() if k.startswith("cpu ")})
        )
        n = max(c["finish"], 1)
        print(
            f"{name:8} {c['finish']:9d} {t['finish'] * 1000 / n:9.3f} "
            f"{t['run_attempt'] * 1000 / n:14.3f} {c['finish statements'] / n:10.2f} "
            f"{c['finish commits'] / n:7.2f} {c['settings read'] / n:8.2f} "
            f"{c['progress check'] / n:8.2f} {c['RunLockNeeded redo'] / n:5.2f} "
            f"{c['idle claim'] / n:11.2f} {c['wake'] / n:6.2f}"
        )


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="worker-parts-") as tmp:
        out_dir = Path(tmp, "parts")
        out_dir.mkdir()
        shim = Path(tmp, "headrace")
        shim.write_text(
            f"#!{sys.executable}\n"
            "import os, sys\n"
            f"sys.path.insert(0, {str(HERE)!r})\n"
            "if sys.argv[1:2] == ['worker']:\n"
            "    from worker_parts import instrument\n"
            f"    instrument(os.environ[{PARTS_DIR_ENV!r}])\n"
            "from headrace.cli.entry import main\n"
            "sys.exit(main())\n"
        )
        shim.chmod(0o755)
        env = {**os.environ, "HEADRACE_BENCH_EXE": str(shim), PARTS_DIR_ENV: str(out_dir)}
        bench = [sys.executable, str(HERE / "postgres_throughput.py"), *sys.argv[1:]]
        subprocess.run(bench, env=env, check=True)
        summary(out_dir)


if __name__ == "__main__":
    main()
