"""Benchmarks on PostgreSQL: W1 (1 -> 100 -> 1) and W3 (1 -> 500 -> 1) `true` tasks run by 1, 2
and 4 `headrace worker` processes behind one `headrace server --workers 0`.

Each configuration gets a fresh PostgreSQL schema (dropped afterwards), a fresh server and fresh
workers. Runs are started through the REST API (`jobs/run-now`, as a client would) and the wall
time runs from the request until the run's end is stored (the store is polled every 10 ms); the
run is then checked through the API to have succeeded with every task. Each workload gets one
untimed warm-up run first. "cpu busy" is the whole machine's busy share during the timed runs
(from /proc/stat: every process, other users' too), to tell a CPU-bound machine from waiting. For comparison the same measurement is taken on SQLite with one
`headrace server --workers N` (tasks run inside the server); `python bench/run.py` gives the
`headrace run` (no server) figures.

    python bench/cluster.py [--repeat 3] [--workers 1,2,4] [--slots 2] [--pg URL]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

_NEXT_TO_PYTHON = Path(sys.executable).with_name("headrace")
# HEADRACE_BENCH_EXE: another `headrace` to measure (an older revision's entry point).
HEADRACE = os.environ.get("HEADRACE_BENCH_EXE") or (
    str(_NEXT_TO_PYTHON) if _NEXT_TO_PYTHON.exists() else shutil.which("headrace") or "headrace"
)
PG_URL = os.environ.get("HEADRACE_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def shell(key: str, deps: list[str]) -> dict[str, Any]:
    task: dict[str, Any] = {"task_key": key, "shell_command_task": {"command": "true"}}
    if deps:
        task["depends_on"] = [{"task_key": d} for d in deps]
    return task


def fan(width: int) -> dict[str, Any]:
    mids = [f"t{i}" for i in range(width)]
    tasks = [shell("start", []), *(shell(m, ["start"]) for m in mids), shell("end", mids)]
    return {"name": f"fan-{width}", "tasks": tasks}


WORKLOADS = {"W1": fan(100), "W3": fan(500)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


@dataclass
class Store:
    """Where one configuration keeps its state: a fresh PG schema or a fresh SQLite file."""

    url: str  # for HEADRACE_DB
    query: Callable[[str, tuple[Any, ...]], list[tuple[Any, ...]]]


@contextlib.contextmanager
def pg_store(base: str) -> Iterator[Store]:
    import psycopg

    schema = f"hr_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    separator = "&" if "?" in base else "?"
    url = f"{base}{separator}options=-csearch_path%3D{schema}"
    conn = psycopg.connect(url, autocommit=True)
    try:
        yield Store(url, lambda sql, args: conn.execute(sql, args).fetchall())
    finally:
        conn.close()
        with psycopg.connect(base, autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@contextlib.contextmanager
def sqlite_store(home: Path) -> Iterator[Store]:
    import sqlite3

    path = home / "headrace.db"

    def query(sql: str, args: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        if not path.exists():
            return []
        db = sqlite3.connect(path, timeout=30)
        try:
            return db.execute(sql.replace("%s", "?"), args).fetchall()
        except sqlite3.OperationalError:  # the server has not created the tables yet
            return []
        finally:
            db.close()

    yield Store(f"sqlite:///{path}", query)


class Processes:
    """The server and workers of one configuration; all killed at the end."""

    def __init__(self, root: Path, store: Store) -> None:
        self.root = root
        self.store = store
        self.procs: list[subprocess.Popen[bytes]] = []
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("HEADRACE_")}
        self.env.update({"HEADRACE_DB": store.url, "NO_PROXY": "127.0.0.1,localhost"})

    def start(self, name: str, *args: str) -> None:
        home = self.root / name
        home.mkdir(parents=True, exist_ok=True)
        with open(home / "log", "wb") as log:
            self.procs.append(
                subprocess.Popen(
                    [HEADRACE, *args],
                    env={**self.env, "HEADRACE_HOME": str(home)},
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )

    def server(self, workers: int) -> str:
        port = free_port()
        self.start(
            "server",
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
        )
        url = f"http://127.0.0.1:{port}"

        def up() -> bool:
            if self.procs[0].poll() is not None:
                raise SystemExit(f"server exited: {(self.root / 'server' / 'log').read_text()}")
            try:
                return httpx.get(f"{url}/health", timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        wait_until(up, 60, "the server to answer /health")
        return url

    def token(self) -> str:
        done = subprocess.run(
            [HEADRACE, "tokens", "create", "--user", "bench", "--admin"],
            env={**self.env, "HEADRACE_HOME": str(self.root / "server")},
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise SystemExit(f"tokens create failed: {done.stderr}")
        return done.stdout.strip()

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


class Api:
    def __init__(self, url: str, token: str) -> None:
        self.client = httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60
        )

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.client.post(path, json=body)
        if response.status_code != 200:
            raise SystemExit(f"{path}: {response.status_code} {response.text}")
        return response.json()

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        response = self.client.get(path, params=params)
        if response.status_code != 200:
            raise SystemExit(f"{path}: {response.status_code} {response.text}")
        return response.json()


def cpu_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine, from /proc/stat (0, 0 where there is none)."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except OSError:
        return 0, 0
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def timed_run(api: Api, store: Store, job_id: int, tasks: int) -> tuple[float, float, float]:
    """(client wall seconds from run-now to the stored end, the run's own stored duration,
    the machine's busy CPU share meanwhile: every process, other users' included)."""
    busy0, total0 = cpu_ticks()
    start = time.perf_counter()
    run_id = api.post("/api/2.2/jobs/run-now", {"job_id": job_id})["run_id"]
    row: list[tuple[Any, ...]] = []
    deadline = time.monotonic() + 600
    while not row:
        row = store.query(
            "SELECT start_time, end_time FROM runs WHERE run_id = %s AND end_time IS NOT NULL",
            (run_id,),
        )
        if not row:
            if time.monotonic() > deadline:
                raise SystemExit(f"run {run_id} did not end within 600 s")
            time.sleep(0.01)
    wall = time.perf_counter() - start
    busy1, total1 = cpu_ticks()
    busy = (busy1 - busy0) / (total1 - total0) if total1 > total0 else float("nan")
    run = api.get("/api/2.2/jobs/runs/get", run_id=run_id)
    ok = [t for t in run.get("tasks", []) if t["state"].get("result_state") == "SUCCESS"]
    if run["state"].get("result_state") != "SUCCESS" or len(ok) != tasks:
        raise SystemExit(f"run {run_id}: {run['state']}, {len(ok)} of {tasks} tasks SUCCESS")
    return wall, (row[0][1] - row[0][0]) / 1000, busy


@dataclass
class Row:
    store: str
    processes: str
    slots: int
    workload: str
    tasks: int
    wall: float
    run: float
    busy: float


def measure(
    label: str, store: Store, root: Path, workers: int, slots: int, repeat: int
) -> list[Row]:
    """One configuration: a server (+ `workers` worker processes on PostgreSQL)."""
    procs = Processes(root, store)
    rows = []
    try:
        pg = label == "postgresql"
        url = procs.server(0 if pg else slots * workers)
        if pg:
            for i in range(workers):
                procs.start(f"worker{i}", "worker", "--slots", str(slots))
            wait_until(
                lambda: (
                    store.query(
                        "SELECT count(*) FROM workers WHERE stopped_at IS NULL AND slots > 0", ()
                    )[0][0]
                    >= workers
                ),
                60,
                f"{workers} workers to register",
            )
        api = Api(url, procs.token())
        for name, spec in WORKLOADS.items():
            job_id = api.post("/api/2.2/jobs/create", spec)["job_id"]
            n = len(spec["tasks"])
            timed_run(api, store, job_id, n)  # warm-up: connections, statement caches
            results = [timed_run(api, store, job_id, n) for _ in range(repeat)]
            wall = statistics.median(r[0] for r in results)
            run = statistics.median(r[1] for r in results)
            busy = statistics.median(r[2] for r in results)
            who = f"{workers} worker proc" if pg else "server --workers"
            rows.append(Row(label, who, slots * workers, name, n, wall, run, busy))
            print(
                f"  {label:10} {who:17} slots={slots * workers:<2} {name} {n:4d} tasks:"
                f" wall {wall:.3f} s  ({', '.join(f'{r[0]:.2f}' for r in results)})",
                flush=True,
            )
    finally:
        procs.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", default="1,2,4", help="worker process counts")
    parser.add_argument("--slots", type=int, default=2, help="slots per worker process")
    parser.add_argument("--pg", default=PG_URL, help="PostgreSQL URL (a schema is made in it)")
    parser.add_argument("--no-sqlite", action="store_true", help="skip the SQLite comparison")
    args = parser.parse_args()
    counts = [int(c) for c in args.workers.split(",")]
    print(
        f"python={sys.version.split()[0]}  cpus={os.cpu_count()}  median of {args.repeat}"
        f" (after 1 warm-up)  slots per worker={args.slots}",
        flush=True,
    )
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        for workers in counts:
            root = Path(tmp) / f"pg-{workers}"
            with pg_store(args.pg) as store:
                rows += measure("postgresql", store, root, workers, args.slots, args.repeat)
        if not args.no_sqlite:
            for workers in counts:
                root = Path(tmp) / f"sqlite-{workers}"
                root.mkdir()
                with sqlite_store(root / "server") as store:
                    (root / "server").mkdir()
                    rows += measure("sqlite", store, root, workers, args.slots, args.repeat)
    print()
    print(
        f"{'store':10} {'task processes':17} {'slots':>5} {'workload':8} {'tasks':>5}"
        f" {'wall s':>7} {'tasks/s':>8} {'run s':>6} {'cpu busy':>8}"
    )
    for r in rows:
        print(
            f"{r.store:10} {r.processes:17} {r.slots:5d} {r.workload:8} {r.tasks:5d}"
            f" {r.wall:7.3f} {r.tasks / r.wall:8.1f} {r.run:6.3f} {r.busy:8.0%}"
        )


if __name__ == "__main__":
    main()
