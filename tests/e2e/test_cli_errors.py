"""Bad settings and stores get one clear line on stderr and a documented exit code."""

from __future__ import annotations

import sqlite3

from support import Headrace


def test_bad_lease_settings_are_rejected_by_name(hr: Headrace) -> None:
    hr.env["HEADRACE_HEARTBEAT_SECONDS"] = "0"
    result = hr("runs", "list")
    assert result.returncode == 1
    assert "HEADRACE_HEARTBEAT_SECONDS=0.0: must be between 0 and the lease" in result.stderr
    hr.env["HEADRACE_LEASE_SECONDS"] = "soon"
    result = hr("runs", "list")
    assert result.returncode == 1
    assert "HEADRACE_LEASE_SECONDS='soon' is not a number" in result.stderr


def test_a_store_from_a_newer_headrace_is_refused(hr: Headrace) -> None:
    db = hr.dir / "future.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE alembic_version (version_num TEXT)")
    conn.execute("INSERT INTO alembic_version VALUES ('0099')")
    conn.commit()
    conn.close()
    result = hr("runs", "list", "--db", str(db))
    assert result.returncode == 1
    assert "store is at schema 0099, newer than this Headrace knows" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_file_that_is_not_a_database_gives_one_line(hr: Headrace) -> None:
    db = hr.write("notes.db", "this is not sqlite\n" * 100)
    result = hr("runs", "list", "--db", str(db))
    assert result.returncode == 1
    assert result.stderr.startswith("error: ")
    assert "Traceback" not in result.stderr
    assert "-v" in result.stderr or "store" in result.stderr


def test_repeated_param_is_an_input_error(hr: Headrace) -> None:
    job = hr.write(
        "p.yml",
        """
        name: p
        parameters: [{name: day, default: "x"}]
        tasks: [{task_key: a, shell_command_task: {command: "true"}}]
        """,
    )
    result = hr("run", job, "-p", "day=1", "-p", "day=2")
    assert result.returncode == 2
    assert "--param day: given more than once" in result.stderr
    assert hr.runs() == []
