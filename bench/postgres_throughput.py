"""Throughput on PostgreSQL with N `headrace worker` processes: many concurrent runs, and W3.

One fresh PostgreSQL schema (dropped afterwards), one `headrace server --workers 0` (API and
coordination only) and `--workers` worker processes with `--slots` slots each. Two measures:

* **many runs**: `--runs` runs of a 1 -> `--width` -> 1 job of `true` tasks, started at once
  through the REST API (`jobs/run-now` from 8 client threads, `max_concurrent_runs` high
  enough that none queues). "tasks/s" is every task of every run divided by the wall time from
  the first `run-now` to the last run's stored end; "exec tasks/s" divides by the span of the
  attempts' stored times (first claim -> last end), which leaves out how fast the client creates
  runs. Every run is checked to have succeeded with every task.
* **W3** (1 -> 500 -> 1) as one run: `jobs/run-now` -> the run's end stored, as in
  `bench/cluster.py`; here the tasks of one run end concurrently on all workers.

With `--waits`, `pg_stat_activity` is sampled every 20 ms during the timed runs and the wait
events of the store's busy backends are counted (what the workers wait for: `Lock/tuple` and
`Lock/transactionid` are row locks, `Client/ClientRead` is a backend waiting for Python).

With `--history RUNS`, that many ended runs (10 task runs and attempts each) are stored before
the timed runs and ANALYZEd: a store that has served a while, which a query that reads more
than the live rows pays for on every call.

Each measure gets an untimed warm-up first. "cpu busy" is the whole machine's busy share
(every process, other users' too). Everything shares one machine: the figures say what
coordination costs, not how far workers on their own machines scale.

    python bench/postgres_throughput.py [--workers 4] [--slots 2] [--runs 100] [--width 8]
                                        [--repeat 3] [--waits] [--pg URL]
                                        [--history RUNS]
"""

from __future__ import annotations

import argparse
import collections
import os
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cluster import (  # bench/ is not a package: its folder is on sys.path
    PG_URL,
    Api,
    Processes,
    Store,
    cpu_ticks,
    fan,
    pg_store,
    timed_run,
    wait_until,
)


class WaitSampler:
    """Counts the wait events of this schema's busy backends, sampled every 20 ms."""

    def __init__(self, url: str) -> None:
        import psycopg

        self.conn = psycopg.connect(url, autocommit=True)
        self.counts: collections.Counter[str] = collections.Counter()
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> WaitSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.conn.close()

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            rows = self.conn.execute(
                "SELECT state, wait_event_type, wait_event FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                " AND backend_type = 'client backend' AND state <> 'idle'"
            ).fetchall()
            self.samples += 1
            for state, kind, event in rows:
                what = f"{kind}/{event}" if kind else "CPU (running)"
                if state == "idle in transaction":
                    what = "idle in transaction (Python between statements)"
                self.counts[what] += 1

    def report(self) -> str:
        if not self.samples:
            return "  (no samples)"
        lines = [f"  busy backends per sample, by wait ({self.samples} samples):"]
        for what, n in self.counts.most_common(8):
            lines.append(f"    {n / self.samples:6.2f}  {what}")
        return "\n".join(lines)


class CpuMeter:
    """CPU seconds spent meanwhile by the server, the workers (their task processes included),
    PostgreSQL's processes (every backend, other users' too) and this bench process itself (the
    client: its HTTP calls and store polls share the two cores), from /proc via psutil."""

    def __init__(self, procs: Processes) -> None:
        self.pids = {"server": [procs.procs[0].pid], "workers": [p.pid for p in procs.procs[1:]]}

    @staticmethod
    def _cpu(pids: list[int]) -> float:
        import psutil

        total = 0.0
        for pid in pids:
            try:
                t = psutil.Process(pid).cpu_times()
            except psutil.Error:
                continue
            total += t.user + t.system + t.children_user + t.children_system
        return total

    def sample(self) -> dict[str, float]:
        import psutil

        pg = [p.pid for p in psutil.process_iter(["name"]) if p.info["name"] == "postgres"]
        own = psutil.Process().cpu_times()  # this bench: the client's run-now calls and polls
        return {
            "server": self._cpu(self.pids["server"]),
            "workers": self._cpu(self.pids["workers"]),
            "postgres": self._cpu(pg),
            "client": own.user + own.system,
        }


def many_runs(
    api: Api, store: Store, job_id: int, runs: int, tasks: int, meter: CpuMeter
) -> dict[str, float]:
    """Start `runs` runs at once; wait for all; check them; return the figures."""
    cpu0 = meter.sample()
    busy0, total0 = cpu_ticks()
    start = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        run_ids = list(
            pool.map(
                lambda _: api.post("/api/2.2/jobs/run-now", {"job_id": job_id})["run_id"],
                range(runs),
            )
        )
    created = time.perf_counter() - start
    deadline = time.monotonic() + 600
    while True:
        left = store.query(
            "SELECT count(*) FROM runs WHERE run_id = ANY(%s) AND end_time IS NULL", (run_ids,)
        )[0][0]
        if not left:
            break
        if time.monotonic() > deadline:
            raise SystemExit(f"{left} of {runs} runs did not end within 600 s")
        time.sleep(0.01)
    wall = time.perf_counter() - start
    busy1, total1 = cpu_ticks()
    cpu1 = meter.sample()
    bad = store.query(
        "SELECT run_id, result_state FROM runs WHERE run_id = ANY(%s)"
        " AND result_state <> 'SUCCESS'",
        (run_ids,),
    )
    if bad:
        raise SystemExit(f"{len(bad)} runs did not succeed, e.g. {bad[:3]}")
    [(ok, first, last)] = store.query(
        "SELECT count(*), min(start_time), max(end_time) FROM attempts"
        " WHERE run_id = ANY(%s) AND result_state = 'SUCCESS'",
        (run_ids,),
    )
    if ok != runs * tasks:
        raise SystemExit(f"{ok} successful attempts, expected {runs * tasks}")
    return {
        "wall": wall,
        "created": created,
        "tasks_per_s": ok / wall,
        "exec_tasks_per_s": ok / max((last - first) / 1000, 1e-3),
        "busy": (busy1 - busy0) / (total1 - total0) if total1 > total0 else float("nan"),
        **{f"cpu_ms_{k}": (cpu1[k] - cpu0[k]) * 1000 / ok for k in cpu0},
    }


# A store's history: ended runs of 10 task runs with one ended attempt each, ids far above
# what the bench allocates, then ANALYZE (as autovacuum would; this machine runs without it).
_HISTORY = [
    "INSERT INTO runs (run_id, run_name, run_type, trigger_type, settings, job_parameters,"
    " life_cycle_state, result_state, state_message, repair_count, created_time, start_time,"
    " end_time) SELECT 1000000000 + g, 'old', 'JOB_RUN', 'ONE_TIME', '{}', '[]', 'TERMINATED',"
    " 'SUCCESS', '', 0, g, g, g + 1 FROM generate_series(1, %(runs)s) g",
    'INSERT INTO task_runs (task_run_id, run_id, task_key, "current", life_cycle_state,'
    " result_state, state_message, waiting_on, attempt_number, start_time, end_time)"
    " SELECT 1000000000 + g, 1000000000 + 1 + (g - 1) / 10, 't' || mod(g, 10), TRUE,"
    " 'TERMINATED', 'SUCCESS', '', 0, 0, g, g + 1 FROM generate_series(1, %(runs)s * 10) g",
    "INSERT INTO attempts (task_run_id, run_id, attempt_number, state, payload, created_time,"
    " claim_key, start_time, end_time) SELECT 1000000000 + g, 1000000000 + 1 + (g - 1) / 10, 0,"
    " 'SUCCESS', '{}', g, g, g, g + 1 FROM generate_series(1, %(runs)s * 10) g",
    "ANALYZE",
]


def add_history(store: Store, runs: int) -> None:
    """`runs` ended runs of 10 task runs each, as a store that has served a while holds."""
    import psycopg

    with psycopg.connect(store.url, autocommit=True) as conn:
        for sql in _HISTORY:
            conn.execute(sql, {"runs": runs} if "%(runs)s" in sql else None)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workers", type=int, default=4, help="worker processes")
    parser.add_argument("--slots", type=int, default=2, help="slots per worker process")
    parser.add_argument("--runs", type=int, default=100, help="concurrent runs per repetition")
    parser.add_argument("--width", type=int, default=8, help="middle tasks of each run's fan")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-w3", action="store_true", help="skip W3 (1 -> 500 -> 1)")
    parser.add_argument("--waits", action="store_true", help="sample pg_stat_activity waits")
    parser.add_argument("--pg", default=PG_URL, help="PostgreSQL URL (a schema is made in it)")
    parser.add_argument(
        "--history",
        type=int,
        default=0,
        metavar="RUNS",
        help="ended runs (10 task runs each) stored before the timed runs",
    )
    args = parser.parse_args()
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"python={sys.version.split()[0]}  cpus={os.cpu_count()}  workers={args.workers}"
        f" x slots={args.slots}  median of {args.repeat} (after 1 warm-up)  load {load}",
        flush=True,
    )
    with tempfile.TemporaryDirectory() as tmp, pg_store(args.pg) as store:
        procs = Processes(Path(tmp), store)
        try:
            url = procs.server(0)
            if args.history:
                add_history(store, args.history)
            for i in range(args.workers):
                procs.start(f"worker{i}", "worker", "--slots", str(args.slots))
            wait_until(
                lambda: (
                    store.query(
                        "SELECT count(*) FROM workers WHERE stopped_at IS NULL AND slots > 0", ()
                    )[0][0]
                    >= args.workers
                ),
                60,
                f"{args.workers} workers to register",
            )
            api = Api(url, procs.token())
            spec: dict[str, Any] = {**fan(args.width), "max_concurrent_runs": args.runs + 10}
            tasks = len(spec["tasks"])
            job_id = api.post("/api/2.2/jobs/create", spec)["job_id"]
            meter = CpuMeter(procs)
            many_runs(api, store, job_id, max(args.runs // 4, 1), tasks, meter)  # warm-up
            results = []
            for _ in range(args.repeat):
                if args.waits:
                    with WaitSampler(store.url) as sampler:
                        results.append(many_runs(api, store, job_id, args.runs, tasks, meter))
                    print(sampler.report())
                else:
                    results.append(many_runs(api, store, job_id, args.runs, tasks, meter))
                r = results[-1]
                print(
                    f"  many runs: {args.runs} x {tasks} tasks: wall {r['wall']:.2f} s"
                    f" (run-now calls {r['created']:.2f} s)  {r['tasks_per_s']:.0f} tasks/s,"
                    f" exec {r['exec_tasks_per_s']:.0f} tasks/s  cpu busy {r['busy']:.0%}"
                    f"  cpu ms/task: server {r['cpu_ms_server']:.2f} workers"
                    f" {r['cpu_ms_workers']:.2f} postgres {r['cpu_ms_postgres']:.2f}"
                    f" client {r['cpu_ms_client']:.2f}",
                    flush=True,
                )
            med = {k: statistics.median(r[k] for r in results) for k in results[0]}
            w3 = None
            if not args.no_w3:
                w3_spec = fan(500)
                w3_id = api.post("/api/2.2/jobs/create", w3_spec)["job_id"]
                n = len(w3_spec["tasks"])
                timed_run(api, store, w3_id, n)  # warm-up
                w3_results = []
                for _ in range(args.repeat):
                    if args.waits:
                        with WaitSampler(store.url) as sampler:
                            w3_results.append(timed_run(api, store, w3_id, n))
                        print(sampler.report())
                    else:
                        w3_results.append(timed_run(api, store, w3_id, n))
                    print(f"  W3: wall {w3_results[-1][0]:.2f} s", flush=True)
                w3 = (
                    statistics.median(r[0] for r in w3_results),
                    statistics.median(r[2] for r in w3_results),
                )
        finally:
            procs.close()
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\nload average after: {load}")
    print(
        f"many runs ({args.runs} x 1->{args.width}->1, {args.runs * tasks} tasks):"
        f" wall {med['wall']:.2f} s  {med['tasks_per_s']:.0f} tasks/s"
        f"  (exec span {med['exec_tasks_per_s']:.0f} tasks/s)  cpu busy {med['busy']:.0%}"
    )
    print(
        f"  cpu ms per task: server {med['cpu_ms_server']:.2f}, workers (with their `true`"
        f" processes) {med['cpu_ms_workers']:.2f}, postgres {med['cpu_ms_postgres']:.2f},"
        f" this bench (client) {med['cpu_ms_client']:.2f}"
    )
    if w3 is not None:
        print(
            f"W3 (1 run, 502 tasks): wall {w3[0]:.3f} s  {502 / w3[0]:.0f} tasks/s  cpu busy {w3[1]:.0%}"
        )


if __name__ == "__main__":
    main()
