"""A broken store is noticed (issue 11, 2.7): `/health` runs a real query and checks that the
SQLite file is still the one opened; a deleted, corrupt or full store fails the request or the
run with one clear line instead of 500s, tracebacks or a retry loop; `headrace db backup`."""

from __future__ import annotations

import os
import resource
import shutil
import sqlite3
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from support import HEADRACE, Headrace, Server, hr

__all__ = ["hr"]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    srv = Server(tmp_path, workers=1)
    try:
        srv.start()
        yield srv
    finally:
        srv.close()


def health(server: Server) -> httpx.Response:
    return httpx.get(f"{server.url}/health", timeout=10)


def create_job(server: Server, token: str) -> httpx.Response:
    body = {"name": "j", "tasks": [{"task_key": "t", "shell_command_task": {"command": "true"}}]}
    return httpx.post(
        f"{server.url}/api/2.2/jobs/create",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )


def one_line_error(response: httpx.Response, *words: str) -> str:
    assert response.status_code == 500, response.text
    body = response.json()
    assert body["error_code"] == "INTERNAL_ERROR"
    message = body["message"]
    assert "\n" not in message and "Traceback" not in message
    for word in words:
        assert word in message, message
    return message


def test_health_and_writes_fail_when_the_store_file_is_deleted(server: Server) -> None:
    token = server.token("alice")
    assert health(server).json()["store"] == "ok"
    assert create_job(server, token).status_code == 200
    for path in server.home.glob("headrace.db*"):
        path.unlink()
    answer = health(server)
    assert answer.status_code == 503, answer.text
    assert answer.json()["status"] == "error"
    assert "was deleted" in answer.json()["store"]
    one_line_error(create_job(server, token), "headrace.db", "was deleted")
    assert "Traceback" not in server.log(), server.log()  # the loops say it in one line


def test_health_and_requests_fail_on_a_corrupt_store(server: Server) -> None:
    token = server.token("alice")
    assert create_job(server, token).status_code == 200
    noise = os.urandom(64 * 1024)
    for path in sorted(server.home.glob("headrace.db*")):
        with open(path, "r+b") as f:  # in place: the same inode, garbage inside
            f.write(noise)
    answer = health(server)
    assert answer.status_code == 503, answer.text
    assert "corrupt" in answer.json()["store"] or "cannot be used" in answer.json()["store"]
    listed = httpx.get(
        f"{server.url}/api/2.2/jobs/list",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert listed.status_code in (401, 500), listed.text  # the token lookup reads the store
    assert "Traceback" not in listed.text and "\n" not in listed.json()["message"]
    assert "store" in listed.json()["message"], listed.text


JOB = "name: many\ntasks:\n" + "".join(
    f"  - task_key: t{i}\n    shell_command_task: {{command: 'echo {i}'}}\n"
    + (f"    depends_on: [{{task_key: t{i - 1}}}]\n" if i else "")
    for i in range(30)
)


@pytest.mark.parametrize("room", [4_000, 150_000])
def test_headrace_run_on_a_full_disk_fails_once_with_one_line(hr: Headrace, room: int) -> None:
    """The store's files may grow only `room` bytes more (RLIMIT_FSIZE stands in for a full
    disk): the run fails with one line and exit 1, where it used to retry forever."""
    first = hr.write("one.yml", JOB.replace("many", "one"))
    assert hr("run", first, "--quiet").returncode == 0
    job = hr.write("many.yml", JOB)
    biggest = max(p.stat().st_size for p in hr.home.glob("headrace.db*"))
    limit = biggest + room

    def small_disk() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    done = subprocess.run(
        [*HEADRACE, "run", str(job), "--quiet"],
        env=hr.env,
        cwd=hr.dir,
        capture_output=True,
        text=True,
        timeout=120,  # a hang guard: before the fix this run never ended
        preexec_fn=small_disk,
    )
    if done.returncode == 0:
        pytest.skip(f"{room} bytes were enough for the whole run")
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert "store" in lines[0] or "disk" in lines[0], lines[0]


def test_db_backup_copies_a_store_in_use(hr: Headrace) -> None:
    job = hr.write("job.yml", JOB.replace("many", "saved"))
    assert hr("run", job, "--quiet").returncode == 0
    assert (hr.home / "headrace.db-wal").stat().st_size > 0  # the latest writes are in the WAL
    target = hr.dir / "backups" / "store.db"
    done = hr("db", "backup", str(target))
    assert done.returncode == 0, str(done)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert not Path(f"{target}-wal").exists()
    with sqlite3.connect(target) as conn:
        assert conn.execute("SELECT count(*) FROM runs").fetchone() == (1,)
        assert conn.execute("SELECT count(*) FROM task_runs").fetchone() == (30,)
    # The copy is a store Headrace opens.
    copy = shutil.copy(target, hr.dir / "copy.db")
    listed = hr("runs", "list", "--json", "--db", str(copy))
    assert listed.returncode == 0 and len(listed.json()["runs"]) == 1, str(listed)
    again = hr("db", "backup", str(target))
    assert again.returncode != 0 and "already exists" in again.stderr
    pg = hr("db", "backup", str(hr.dir / "pg.db"), "--db", "postgresql://nobody@127.0.0.1:1/x")
    assert pg.returncode != 0 and "pg_dump" in pg.stderr, str(pg)
