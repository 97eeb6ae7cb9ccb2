"""Headrace against Luigi on W1 (1 -> 100 -> 1), W2 (chain of 50), W3 (1 -> 500 -> 1).

Each figure is a ratio measured in one sitting: the runs are interleaved (Headrace, Luigi,
workload by workload, repetition by repetition), so load on a shared machine hits both alike.
Headrace: `python -m headrace run --quiet --slots 2` as a fresh process on an existing SQLite
store, checked afterwards to have stored a SUCCESS for every task. Luigi: bench/luigi_workflow.py
as a fresh process, local scheduler, 2 workers, marker files as outputs, in its own virtualenv
(created with uv under ~/.cache/headrace-bench on first use; Luigi is not a Headrace
dependency). `--before REF` adds Headrace at a git revision (its src/ exported to a temp dir).

    python bench/luigi_compare.py [--repeat 5] [--workers 2] [--before REF]
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
from pathlib import Path

from run import ONE_TASK, WORKLOADS  # bench/run.py: the same workloads

BENCH = Path(__file__).resolve().parent
LUIGI = "luigi>=3.8.1,<3.9"


def luigi_python() -> Path:
    """The interpreter of Luigi's virtualenv, created with uv on first use."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    venv = cache / "headrace-bench" / "luigi-venv"
    python = venv / "bin" / "python"
    probe = [str(python), "-c", "import luigi"]
    if python.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return python
    uv = shutil.which("uv") or str(Path(sys.executable).with_name("uv"))
    subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(venv)], check=True)
    subprocess.run([uv, "pip", "install", "-q", "--python", str(python), LUIGI], check=True)
    return python


def export_source(ref: str, into: Path) -> Path:
    """src/ of the repository at `ref`, for running that Headrace with PYTHONPATH."""
    archive = subprocess.run(
        ["git", "-C", str(BENCH.parent), "archive", ref, "src"], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into / "src"


class Headrace:
    """`headrace run` of one source tree, on its own store."""

    def __init__(self, home: Path, src: Path | None) -> None:
        self.home = home
        self.env = {**os.environ, "HEADRACE_HOME": str(home)}
        self.env.pop("HEADRACE_DB", None)
        if src is not None:
            self.env["PYTHONPATH"] = str(src)
        self.once(ONE_TASK, 1)  # the store exists before anything is timed

    def once(self, spec: dict, slots: int) -> float:
        path = self.home / f"{spec['name']}.json"
        path.write_text(json.dumps(spec))
        cmd = [sys.executable, "-m", "headrace", "run", str(path), "--quiet", "--json"]
        start = time.perf_counter()
        proc = subprocess.run([*cmd, "--slots", str(slots)], env=self.env, capture_output=True)
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            raise SystemExit(f"headrace run failed: {proc.stderr[-2000:]!r}")
        run_id = json.loads(proc.stdout)["run_id"]
        db = sqlite3.connect(self.home / "headrace.db")
        ok = db.execute(
            "select count(*) from task_runs where run_id = ? and result_state = 'SUCCESS'",
            (run_id,),
        ).fetchone()[0]
        db.close()
        if ok != len(spec["tasks"]):
            raise SystemExit(f"only {ok} of {len(spec['tasks'])} tasks stored as SUCCESS")
        return wall


def luigi_once(python: Path, name: str, workers: int, workdir: Path) -> float:
    markers = Path(tempfile.mkdtemp(dir=workdir))
    cmd = [str(python), str(BENCH / "luigi_workflow.py"), name, str(workers), str(markers)]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"luigi failed: {proc.stderr[-2000:]}")
    ran, tasks = int(proc.stdout.split()[-1]), len(WORKLOADS[name][0]["tasks"])
    if ran != tasks:
        raise SystemExit(f"luigi ran {ran} of {tasks} tasks")
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2, help="Luigi workers = Headrace slots")
    parser.add_argument("--before", metavar="REF", help="Also time Headrace at this revision.")
    args = parser.parse_args()
    python = luigi_python()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        sides: dict[str, Headrace] = {}
        if args.before:
            src = export_source(args.before, Path(tempfile.mkdtemp(dir=workdir)))
            sides[f"before {args.before}"] = Headrace(Path(tempfile.mkdtemp(dir=workdir)), src)
        sides["headrace"] = Headrace(Path(tempfile.mkdtemp(dir=workdir)), None)
        times: dict[tuple[str, str], list[float]] = {}
        load_before = os.getloadavg()
        for _ in range(args.repeat):
            for side, hr in sides.items():
                times.setdefault((side, "one"), []).append(hr.once(ONE_TASK, 1))
            for name, (spec, _shape) in WORKLOADS.items():
                for side, hr in sides.items():
                    times.setdefault((side, name), []).append(hr.once(spec, args.workers))
                luigi = luigi_once(python, name, args.workers, workdir)
                times.setdefault(("luigi", name), []).append(luigi)
        load_after = os.getloadavg()
    median = {key: statistics.median(values) for key, values in times.items()}
    print(
        f"workers/slots={args.workers}  median of {args.repeat}, interleaved  python="
        f"{sys.version.split()[0]}  cores={os.cpu_count()}  load average (1/5/15 min)"
        f" before {'/'.join(f'{x:.1f}' for x in load_before)},"
        f" after {'/'.join(f'{x:.1f}' for x in load_after)}"
    )
    for side in sides:
        print(f"one-task run ({side}): {median[(side, 'one')]:.3f} s")
    head = f"{'workload':8} {'tasks':>5} {'luigi s':>8}"
    for side in sides:
        head += f" {side + ' s':>18} {'x luigi':>8}"
    print(head)
    for name, (spec, _shape) in WORKLOADS.items():
        luigi = median[("luigi", name)]
        line = f"{name:8} {len(spec['tasks']):5d} {luigi:8.3f}"
        for side in sides:
            line += f" {median[(side, name)]:18.3f} {median[(side, name)] / luigi:8.2f}"
        print(line)


if __name__ == "__main__":
    main()
