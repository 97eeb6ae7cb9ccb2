"""After `kill -9` of `headrace run`, recovery kills everything the lost attempt started, even
when its main process had already exited and left children behind, and children that moved
to a process group of their own (issue 11, 2.9)."""

from __future__ import annotations

import os
import signal
import sqlite3
import sys

from support import Headrace, hr, pid_alive, read_pid, reap, wait_dead, wait_for

__all__ = ["hr", "reap"]


def recorded_pid(hr: Headrace) -> int | None:
    """The attempt's pid once the worker wrote it to the store (read-only look)."""
    uri = f"file:{hr.home / 'headrace.db'}?mode=ro"
    try:
        with sqlite3.connect(uri, uri=True, timeout=5) as conn:
            row = conn.execute("SELECT pid FROM attempts WHERE pid IS NOT NULL").fetchone()
    except sqlite3.Error:
        return None
    return row[0] if row else None


def test_children_of_an_exited_task_die_on_recovery(hr: Headrace, reap: list[int]) -> None:
    hr.env["HEADRACE_LEASE_SECONDS"] = "1"
    d = hr.dir
    own_group = (
        "import os, sys, time; os.setpgid(0, 0); "
        f"open({str(d / 'grouped.pid')!r}, 'w').write(str(os.getpid())); time.sleep(300)"
    )
    job = hr.write(
        "leaves.yml",
        f"""
        name: leaves
        tasks:
          - task_key: main
            shell_command_task:
              command: |
                echo $$ > {d / "main.pid"}
                sleep 300 &
                echo $! > {d / "child.pid"}
                {sys.executable} -c "{own_group}" &
                while [ ! -f {d / "go"} ]; do sleep 0.05; done
                exit 0
        """,
    )
    proc = hr.popen("run", job, "--quiet")
    main, child, grouped = (read_pid(d / f"{n}.pid") for n in ("main", "child", "grouped"))
    reap.extend([main, child, grouped])
    assert os.getpgid(grouped) == grouped != os.getpgid(main)
    wait_for(lambda: recorded_pid(hr) == main, 15, "the attempt's pid in the store")

    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=10)
    (d / "go").touch()  # the task's main process exits now: only its children are left
    wait_dead(main)
    assert pid_alive(child) and pid_alive(grouped)

    listed = hr("runs", "list", "--json")  # any command on the store recovers the lost run
    assert listed.returncode == 0, str(listed)
    wait_dead(child)
    wait_dead(grouped)
    (run,) = hr.runs()
    assert run["state"]["life_cycle_state"] == "TERMINATED"
