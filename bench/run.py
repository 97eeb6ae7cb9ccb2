"""Benchmarks: W1 (1 -> 100 -> 1), W2 (chain of 50), W3 (1 -> 500 -> 1) of `true` tasks.

Each workload goes through `headrace run` as a fresh process on a fresh SQLite store, exactly
as a user would run it, so process start, imports and durable state are all included. The
floor is the same number of bare `subprocess.run(["true"])` calls at the same parallelism.

    python bench/run.py [--repeat 3] [--slots N]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

# The console script next to this interpreter (a version manager's shim would add its own start).
_NEXT_TO_PYTHON = Path(sys.executable).with_name("headrace")
HEADRACE = (
    str(_NEXT_TO_PYTHON) if _NEXT_TO_PYTHON.exists() else shutil.which("headrace") or "headrace"
)


def shell(key: str, deps: list[str]) -> dict:
    task: dict = {"task_key": key, "shell_command_task": {"command": "true"}}
    if deps:
        task["depends_on"] = [{"task_key": d} for d in deps]
    return task


def fan(width: int) -> dict:
    mids = [f"t{i}" for i in range(width)]
    tasks = [shell("start", []), *(shell(m, ["start"]) for m in mids), shell("end", mids)]
    return {"name": f"fan-{width}", "tasks": tasks}


def chain(length: int) -> dict:
    keys = [f"t{i}" for i in range(length)]
    return {
        "name": f"chain-{length}",
        "tasks": [shell(k, [keys[i - 1]] if i else []) for i, k in enumerate(keys)],
    }


WORKLOADS = {
    "W1": (fan(100), "fan"),
    "W2": (chain(50), "chain"),
    "W3": (fan(500), "fan"),
}


def new_home(workdir: Path) -> Path:
    """A data directory whose store already exists (created by one untimed run)."""
    home = Path(tempfile.mkdtemp(dir=workdir))
    headrace_once(ONE_TASK, 1, home)
    return home


def headrace_once(spec: dict, slots: int, home: Path) -> float:
    """Wall seconds of one `headrace run` of `spec`, checked to have stored every success."""
    spec_path = home / f"{spec['name']}.json"
    spec_path.write_text(json.dumps(spec))
    env = {**os.environ, "HEADRACE_HOME": str(home)}
    cmd = [HEADRACE, "run", str(spec_path), "--quiet", "--slots", str(slots), "--json"]
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"headrace run failed ({proc.returncode}): {proc.stderr[-2000:]}")
    run_id = json.loads(proc.stdout)["run_id"]
    db = sqlite3.connect(home / "headrace.db")
    ok = db.execute(
        "select count(*) from task_runs where run_id = ? and result_state = 'SUCCESS'", (run_id,)
    ).fetchone()[0]
    db.close()
    if ok != len(spec["tasks"]):
        raise SystemExit(f"only {ok} of {len(spec['tasks'])} tasks stored as SUCCESS")
    return wall


def floor_once(spec: dict, shape: str, slots: int) -> float:
    def true() -> None:
        subprocess.run(["true"], check=True)

    start = time.perf_counter()
    if shape == "chain":
        for _ in spec["tasks"]:
            true()
    else:
        true()
        with ThreadPoolExecutor(slots) as pool:
            list(pool.map(lambda _: true(), range(len(spec["tasks"]) - 2)))
        true()
    return time.perf_counter() - start


ONE_TASK = {"name": "one", "tasks": [shell("t", [])]}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--slots", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    median = statistics.median
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        first = median(
            headrace_once(ONE_TASK, 1, Path(tempfile.mkdtemp(dir=workdir)))
            for _ in range(args.repeat)
        )
        home = new_home(workdir)
        startup = median(headrace_once(ONE_TASK, 1, home) for _ in range(args.repeat))
        print(f"slots={args.slots}  python={sys.version.split()[0]}  median of {args.repeat}")
        print(
            f"one-task run, existing store: {startup:.3f} s  (first run, new store: {first:.3f} s)"
        )
        print(
            f"{'workload':8} {'tasks':>5} {'headrace s':>10} {'floor s':>8} {'x floor':>8}"
            f" {'per-task ms':>11} {'overhead ms/task':>16}"
        )
        for name, (spec, shape) in WORKLOADS.items():
            n = len(spec["tasks"])
            walls = [headrace_once(spec, args.slots, home) for _ in range(args.repeat)]
            floors = [floor_once(spec, shape, args.slots) for _ in range(args.repeat)]
            wall, floor = median(walls), median(floors)
            # What each task costs beyond the bare process start, start-up excluded.
            overhead = max(wall - startup - floor, 0) / n * 1000
            print(
                f"{name:8} {n:5d} {wall:10.3f} {floor:8.3f} {wall / floor:8.1f}"
                f" {wall / n * 1000:11.2f} {overhead:16.2f}"
            )


if __name__ == "__main__":
    main()
