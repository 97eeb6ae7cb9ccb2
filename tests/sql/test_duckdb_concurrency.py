"""One writer at a time on the DuckDB file: real processes queue, killed ones leave nothing."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from headrace.warehouse import WarehouseError, execute, lock
from support import wait_for

DATABASE = ("warehouse", "default.duckdb")


def start_python(code: str, home: Path, *, pipe: str | None = None) -> subprocess.Popen[str]:
    """`python -c code` over `home`; `pipe` ("stdout" or "stderr") is readable, the rest not."""
    env = {**os.environ, "HEADRACE_HOME": str(home)}
    return subprocess.Popen(
        [sys.executable, "-c", code],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE if pipe == "stdout" else subprocess.DEVNULL,
        stderr=subprocess.PIPE if pipe == "stderr" else subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )


def stderr_lines(proc: subprocess.Popen[str]) -> tuple[queue.Queue[str], threading.Thread]:
    """The process's stderr, line by line, as it comes (a reader thread feeds the queue)."""
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert proc.stderr is not None
        with proc.stderr:
            for line in proc.stderr:
                lines.put(line)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    return lines, reader


def test_a_second_writer_waits_for_the_first_and_says_so(home: Path) -> None:
    execute("CREATE TABLE t (a INT)")
    database = home.joinpath(*DATABASE)
    with lock.exclusive(database):
        proc = start_python(
            "from headrace.warehouse import execute; execute('INSERT INTO t VALUES (1)')",
            home,
            pipe="stderr",
        )
        lines, reader = stderr_lines(proc)
        try:
            line = lines.get(timeout=60)
            assert line.startswith(f"waiting for the warehouse {database} (in use by process ")
            assert str(os.getpid()) in line
            assert proc.poll() is None  # it cannot go on while the lock is held
        except BaseException:
            proc.kill()
            raise
    assert proc.wait(timeout=60) == 0
    reader.join(timeout=60)
    assert execute("SELECT count(*) FROM t").rows == [[1]]


def test_writers_in_parallel_processes_all_commit(home: Path) -> None:
    execute("CREATE TABLE hits (writer INT, i INT)")
    code = (
        "import sys\nfrom headrace.warehouse import execute\n"
        "for i in range(15):\n"
        "    execute('INSERT INTO hits VALUES (:w, :i)', parameters={'w': sys.argv[1], 'i': i})\n"
    )
    env = {**os.environ, "HEADRACE_HOME": str(home)}
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(w)], env=env, stderr=subprocess.PIPE)
        for w in range(3)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    result = execute("SELECT writer, count(*) FROM hits GROUP BY writer ORDER BY writer")
    assert result.rows == [[0, 15], [1, 15], [2, 15]]


def test_a_killed_writer_leaves_no_partial_state_and_no_lock(home: Path) -> None:
    proc = start_python(
        "from headrace.warehouse import execute\n"
        "execute('CREATE TABLE partial AS SELECT 1 AS a; "
        "SELECT sum(r.range) FROM range(1000000000000) r')",
        home,
    )
    lock_file = home.joinpath(*DATABASE).with_suffix(".duckdb.lock")
    try:
        wait_for(
            lambda: lock_file.exists() and lock_file.read_text() == str(proc.pid),
            timeout=60,
            what="the writer to hold the warehouse",
        )
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    with pytest.raises(WarehouseError, match="partial does not exist"):
        execute("SELECT * FROM partial")
    assert execute("CREATE TABLE after_kill AS SELECT 2 AS b; SELECT b FROM after_kill").rows == [
        [2]
    ]


def test_a_database_held_by_another_program_is_a_clear_error(home: Path) -> None:
    database = home.joinpath(*DATABASE)
    execute("SELECT 1")  # creates the file
    holder = start_python(
        "import duckdb, sys\n"
        f"con = duckdb.connect({str(database)!r})\n"
        "print('open', flush=True)\n"
        "import time; time.sleep(600)\n",
        home,
        pipe="stdout",
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "open"
        with pytest.raises(WarehouseError) as caught:
            execute("SELECT 1")
        assert str(caught.value).startswith(f"cannot open the warehouse {database}: ")
        assert "lock" in str(caught.value).lower()
    finally:
        holder.kill()
        holder.communicate()
