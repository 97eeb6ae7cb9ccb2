"""Edge latency on SQLite: from an upstream task's end to its downstream task's start.

Runs W1 (1 -> 100 -> 1), W2 (a chain of 50) and W3 (1 -> 500 -> 1) of `true` tasks through
`headrace run --slots N` (fresh process, existing SQLite store, as bench/run.py) and reads the
attempts' stored times afterwards: the claim of a released task minus the latest end among its
upstreams' attempts, for the edges where no slot is busy with a sibling (each link of the chain;
a fan's root -> its first middle and its last middle -> the join). The finishing transaction,
the release, the claim and any wake-up are in it; the task processes themselves are not. Times are the store's epoch milliseconds, so every edge is a
whole number of ms (0 means within the same millisecond, e.g. the finishing transaction claimed
it itself). A fan-out's edge includes its finishing transaction queueing every middle task
(the root's end is stored when that transaction starts).

    python bench/edge_latency.py [--repeat 5] [--slots 2]
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import (
    WORKLOADS,
    headrace_once,
    new_home,
)  # bench/ is not a package: its folder is on sys.path


def edges_of_last_run(home: Path, spec: dict) -> dict[str, list[int]]:
    """End -> start gaps (ms) of the newest run in `home`'s store, for the edges where the
    released task waits for no slot: each link of a chain, a fan's root end -> its first middle
    start, and its last middle end -> the join's start. (In a fan the other middles wait for a
    free slot: that is queueing, not the coordinator's latency.)"""
    db = sqlite3.connect(home / "headrace.db")
    try:
        (run_id,) = db.execute("SELECT max(run_id) FROM runs").fetchone()
        rows = db.execute(
            "SELECT t.task_key, a.start_time, a.end_time FROM attempts a"
            " JOIN task_runs t ON t.task_run_id = a.task_run_id WHERE a.run_id = ?",
            (run_id,),
        ).fetchall()
    finally:
        db.close()
    times = {key: (start, end) for key, start, end in rows}
    released: dict[str, list[str]] = {}  # upstream set -> the tasks it releases
    for task in spec["tasks"]:
        ups = tuple(sorted(d["task_key"] for d in task.get("depends_on", [])))
        if ups:
            released.setdefault(",".join(ups), []).append(task["task_key"])
    gaps: dict[str, list[int]] = {}
    for ups, keys in released.items():
        end = max(times[u][1] for u in ups.split(","))
        kind = "join" if "," in ups else "fan-out" if len(keys) > 1 else "link"
        gaps.setdefault(kind, []).append(min(times[k][0] for k in keys) - end)
    return gaps


def percentile(values: list[int], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--slots", type=int, default=2)
    args = parser.parse_args()
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"slots={args.slots}  {args.repeat} runs each  load {load}")
    print(
        f"{'workload':8} {'edge':8} {'count':>6} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7}"
        f" {'mean ms':>8}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        home = new_home(Path(tmp))
        for name, (spec, _shape) in WORKLOADS.items():
            by_kind: dict[str, list[int]] = {}
            for _ in range(args.repeat):
                headrace_once(spec, args.slots, home)
                for kind, gaps in edges_of_last_run(home, spec).items():
                    by_kind.setdefault(kind, []).extend(gaps)
            for kind, gaps in by_kind.items():
                print(
                    f"{name:8} {kind:8} {len(gaps):6d} {percentile(gaps, 0.5):7.0f}"
                    f" {percentile(gaps, 0.95):7.0f} {max(gaps):7d} {statistics.mean(gaps):8.2f}"
                )


if __name__ == "__main__":
    main()
