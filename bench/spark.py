"""Spark compute figures (issue 12): a job cluster's time to ready, and how soon a notebook on
the warm server runs its first cell and its first Spark query.

    python bench/spark.py [--repeat 3]

1. time to ready: `start_server` of a one-core local cluster (spark-submit -> Spark Connect's
   "started" line), the data directory's metastore already up; stopped after each start.
2. warm notebook: `headrace run` of a one-notebook job, twice on one data directory: the first
   run starts the warm server, the next ones reuse it. For each run: task start -> first cell
   (`spark` is there) and -> first `spark.range(1).count()` answered; cells in the runner's
   own IPython shell (the default) and in a Jupyter kernel (HEADRACE_NOTEBOOK_EXECUTOR=kernel).
Machine load matters a lot (two shared cores here): quote figures with `uptime`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_NEXT_TO_PYTHON = Path(sys.executable).with_name("headrace")
HEADRACE = str(_NEXT_TO_PYTHON) if _NEXT_TO_PYTHON.exists() else "headrace"
NOTEBOOK = """# Databricks notebook source
import time, pathlib
pathlib.Path({cell!r}).write_text(str(time.time()))

# COMMAND ----------
spark.range(1).count()
pathlib.Path({query!r}).write_text(str(time.time()))
"""


def time_to_ready(home: Path, repeat: int) -> list[float]:
    from headrace.compute.catalog import catalog_spark_conf
    from headrace.compute.server import launch_config, start_server, stop_server

    catalog_spark_conf(home)  # the metastore is per data directory, started once
    times = []
    for i in range(repeat):
        folder = home / "spark" / "clusters" / f"bench-{i}"
        config = launch_config(home, f"bench-{i}", {"num_workers": 1})
        started = time.monotonic()
        start_server(folder, config)
        times.append(time.monotonic() - started)
        stop_server(folder)
    return times


def warm_notebook(
    root: Path, home: Path, repeat: int, executor: str = ""
) -> list[tuple[float, float]]:
    env = {**os.environ, "HEADRACE_HOME": str(home), "HEADRACE_NOTEBOOK_EXECUTOR": executor}
    out = []
    for i in range(repeat + 1):
        cell, query = root / f"cell-{i}", root / f"query-{i}"
        (root / "nb.py").write_text(NOTEBOOK.format(cell=str(cell), query=str(query)))
        (root / "job.yml").write_text(
            "name: warm\ntasks:\n  - task_key: nb\n    notebook_task: {notebook_path: ./nb.py}\n"
        )
        proc = subprocess.run(
            [HEADRACE, "run", str(root / "job.yml"), "--json"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        run = json.loads(proc.stdout)
        start = run["tasks"][0]["start_time"] / 1000
        out.append((float(cell.read_text()) - start, float(query.read_text()) - start))
    return out


def _r(values: list[float]) -> list[float]:
    return [round(v, 2) for v in values]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-ready", action="store_true", help="only the notebook figures")
    args = parser.parse_args()
    os.environ.setdefault("HEADRACE_SPARK_DRIVER_MEMORY", "512m")
    root = Path(tempfile.mkdtemp(prefix="headrace-spark-bench-"))
    home = root / "home"
    try:
        if not args.skip_ready:
            ready = time_to_ready(home, args.repeat)
            print(f"job cluster time to ready: median {statistics.median(ready):.1f} s {_r(ready)}")
            print(f"load: {os.getloadavg()}")
        # In-process cells (the default) and, for comparison, a Jupyter kernel per notebook.
        [(cell, query)] = warm_notebook(root, home, 0)
        print(f"cold (starts the warm server): first cell {cell:.2f} s, query {query:.2f} s")
        # In-process cells (the default) and a Jupyter kernel per notebook, taking turns so
        # both meet the same machine load and the same JIT-warmed server.
        runs: dict[str, list[tuple[float, float]]] = {"in-process": [], "kernel": []}
        for _ in range(args.repeat):
            for name, executor in (("in-process", ""), ("kernel", "kernel")):
                runs[name] += warm_notebook(root, home, 0, executor)
        for name, pairs in runs.items():
            cells = [c for c, _ in pairs]
            queries = [q for _, q in pairs]
            print(f"warm, {name}: first cell median {statistics.median(cells):.2f} s {_r(cells)}")
            print(
                f"warm, {name}: first query median {statistics.median(queries):.2f} s {_r(queries)}"
            )
        print(f"load: {os.getloadavg()}")
    finally:
        from headrace.compute.catalog import stop_metastore
        from headrace.compute.warm import stop_warm

        stop_warm(home)
        stop_metastore(home)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
