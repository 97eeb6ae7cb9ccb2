"""CPU of a worker's supervision of one `true` shell task, in one process, without a store.

Runs `worker.supervisor.run_attempt` (folders, context.json, the process and its log, the
outcome) and `engine.logs.pack_log` (what a PostgreSQL worker does with the log) for N
attempts of `true`, each of a new run as a worker sees them, and prints per attempt: this
process's CPU (every thread, `getrusage`), the supervising thread's own, the task processes'
(`RUSAGE_CHILDREN`) and the wall time. The store's share of a worker's CPU (claim and end
transactions) is not in it: `bench/postgres_throughput.py` measures the whole.

Where the logs go matters on some machines: on ext4 without a journal, every file or folder
created scans the inodes freed in the last minutes (`recently_deleted`), so the figure swings
with other processes' deletions; `--logs /dev/shm` (tmpfs) leaves that out. Compare two
revisions interleaved with `PYTHONPATH=<tree>/src`.

    python bench/worker_attempt_cpu.py [--attempts 2000] [--logs DIR] [--command true]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from pathlib import Path

from headrace.engine.logs import pack_log
from headrace.states import Result
from headrace.store.records import Attempt
from headrace.worker.supervisor import KillSwitch, log_path_for, run_attempt


def attempt(i: int, command: str) -> Attempt:
    payload = {
        "task_key": "t",
        "task_type": "shell_command_task",
        "settings": {"command": command},
        "run_id": 1000 + i,
        "job_id": 1,
        "task_run_id": 5000 + i,
        "attempt_number": 0,
        "parameters": {},
        "task_values": {},
    }
    return Attempt(
        attempt_id=i,
        task_run_id=5000 + i,
        run_id=1000 + i,
        attempt_number=0,
        state="RUNNING",
        result=None,
        payload=payload,
        worker_id="bench",
        pid=None,
        kill_reason=None,
        exit_code=None,
        error=None,
        error_trace=None,
        output=None,
        log_path=None,
        pool=None,
        created_time=0,
        start_time=0,
        end_time=None,
    )


def supervise(logs: Path, i: int, command: str) -> None:
    one = attempt(i, command)
    outcome = run_attempt(one, logs, KillSwitch(), lambda pid: None)
    if outcome.result != Result.SUCCESS:
        raise SystemExit(f"attempt {i} did not succeed: {outcome}")
    pack_log(log_path_for(logs, one))


def cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--attempts", type=int, default=2000)
    parser.add_argument("--logs", help="folder to make the logs folder in (default: TMPDIR)")
    parser.add_argument("--command", default="true", help="the shell_command_task's command")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(dir=args.logs))
    logs = root / "logs"
    for i in range(20):  # warm-up: imports, the task environment's base
        supervise(logs, -1 - i, args.command)
    own0, kids0, thread0 = (
        cpu(resource.RUSAGE_SELF),
        cpu(resource.RUSAGE_CHILDREN),
        time.thread_time(),
    )
    start = time.perf_counter()
    for i in range(args.attempts):
        supervise(logs, i, args.command)
    wall = time.perf_counter() - start
    n = args.attempts
    own = (cpu(resource.RUSAGE_SELF) - own0) * 1000 / n
    kids = (cpu(resource.RUSAGE_CHILDREN) - kids0) * 1000 / n
    thread = (time.thread_time() - thread0) * 1000 / n
    print(
        f"per attempt: worker {own:.3f} ms (supervising thread {thread:.3f}),"
        f" task processes {kids:.3f} ms, together {own + kids:.3f} ms; wall {wall * 1000 / n:.2f} ms"
        f"  (logs under {args.logs or tempfile.gettempdir()})"
    )
    shutil.rmtree(root)


if __name__ == "__main__":
    main()
