"""`headrace db copy` (issue 16): a whole store to PostgreSQL and back, ids and history intact."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from headrace.config import database_url
from headrace.store.db import open_store
from headrace.store.schema import metadata
from pg_support import pg_base_url, with_search_path
from support import Headrace, Server

JOB = """
name: copied
tasks:
  - task_key: a
    shell_command_task: {command: "echo one"}
  - task_key: b
    depends_on: [{task_key: a}]
    max_retries: 1
    shell_command_task: {command: "test -f marker || (touch marker; exit 3)"}
"""


def _rows(url: str) -> dict[str, list[Any]]:
    """Every row of every table of the store at `url`, in primary-key order."""
    store = open_store(url, migrate=False)
    try:
        with store.read() as conn:
            out = {}
            for table in metadata.sorted_tables:
                order = list(table.primary_key.columns) or list(table.columns)
                out[table.name] = [tuple(r) for r in conn.execute(select(table).order_by(*order))]
            return out
    finally:
        store.dispose()


@pytest.mark.postgres
def test_sqlite_to_postgresql_and_back_keeps_every_row_and_id(hr: Headrace, pg_schema: str) -> None:
    job = hr.write("job.yml", JOB)
    for _ in range(2):
        (hr.dir / "marker").unlink(missing_ok=True)
        assert hr("run", job, "-q").returncode == 0
    assert hr("tokens", "create", "--user", "ann").returncode == 0
    source = database_url(str(hr.home / "headrace.db"), hr.home)
    before = _rows(source)
    assert len(before["attempts"]) == 6 and len(before["runs"]) == 2

    pg = with_search_path(pg_base_url(), pg_schema)
    done = hr("db", "copy", "--to", pg, "--json")
    assert done.returncode == 0, str(done)
    assert done.json()["tables"]["attempts"] == 6
    assert _rows(pg) == before

    again = hr("db", "copy", "--to", pg)
    assert again.returncode == 2, str(again)
    assert "not empty" in again.stderr and "Traceback" not in again.stderr

    # The copy is a working store: new ids follow the copied ones (counters and sequences).
    (hr.dir / "marker").unlink(missing_ok=True)
    _, run = hr.run_json(job, "--db", pg, expect=0)
    old_ids = {r[0] for r in before["runs"]}
    assert run["run_id"] > max(old_ids)
    listed = hr("runs", "list", "--json", "--db", pg).json()["runs"]
    assert len(listed) == 3

    back = hr.dir / "laptop.db"
    reverse = hr("db", "copy", "--db", pg, "--to", back, "-q")
    assert reverse.returncode == 0, str(reverse)
    assert _rows(database_url(str(back), hr.home)) == _rows(pg)


def test_copy_refuses_while_a_server_holds_the_store(tmp_path: Path) -> None:
    server = Server(tmp_path, workers=1)
    try:
        server.start()
        done = server.cli("db", "copy", "--to", str(tmp_path / "copy.db"))
    finally:
        server.close()
    assert done.returncode == 2, done.stderr
    assert "server is using this store" in done.stderr, done.stderr
    assert not (tmp_path / "copy.db").exists()  # refused before the target was made
    # Once the server is gone, the same copy works.
    later = server.cli("db", "copy", "--to", str(tmp_path / "copy.db"), "-q")
    assert later.returncode == 0, later.stderr
