"""Secrets never leak through task output (issue 11, 2.6): every byte a task writes passes the
supervisor's log pipe and is redacted there (sys.stdout.buffer, os.write, subprocesses, shell
tasks, a notebook's subprocesses), task values and exit values are redacted before they are
stored, and the data directory, store file and logs are private (0700/0600)."""

from __future__ import annotations

import json
import stat
import textwrap
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from headrace.runtime.secrets import REDACTED
from headrace.worker.log_pipe import StreamRedactor
from support import Server, wait_for

SECRET = "hunter2-very-secret"
OTHER = "s3cr3t-other-value-123"


# --- the pipe's redactor, fed in every possible split ------------------------------------------


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 64])
def test_a_secret_split_across_reads_is_redacted(size: int) -> None:
    stream = f"a {SECRET} b {OTHER}{SECRET}\nhunter2-very-secre{SECRET[-1]}x hunter2".encode()
    chunks = [stream[i : i + size] for i in range(0, len(stream), size)]
    redactor = StreamRedactor([SECRET, OTHER, "abc"])
    out = b"".join(redactor.feed(c) for c in chunks) + redactor.flush()
    text = out.decode()
    assert SECRET not in text and OTHER not in text
    assert text == f"a {REDACTED} b {REDACTED}{REDACTED}\n{REDACTED}x hunter2"


def test_every_split_point_of_a_secret() -> None:
    data = f"<{SECRET}>".encode()
    for cut in range(len(data) + 1):
        redactor = StreamRedactor([SECRET])
        out = redactor.feed(data[:cut]) + redactor.feed(data[cut:]) + redactor.flush()
        assert out == f"<{REDACTED}>".encode(), cut


def test_the_longer_of_two_overlapping_secrets_wins_across_reads() -> None:
    redactor = StreamRedactor(["abcd", "abcdefgh"])
    out = redactor.feed(b"xxabcdef") + redactor.feed(b"ghyy") + redactor.flush()
    assert out == f"xx{REDACTED}yy".encode()


# --- a real server -------------------------------------------------------------------------------

PYTHON_TASK = """
import os, subprocess, sys
from headrace.runtime import dbutils
s = dbutils.secrets.get("prod", "pw")
sys.stdout.buffer.write(b"buffer:" + s.encode() + b"\\n")
sys.stdout.buffer.flush()
os.write(1, b"oswrite:" + s.encode() + b"\\n")
os.write(2, b"stderr:" + s.encode() + b"\\n")
subprocess.run(["sh", "-c", "echo sub:$0", s], check=True)
subprocess.run(["sh", "-c", "cat $HEADRACE_HOME/secrets/prod/other"], check=True)
dbutils.jobs.taskValues.set("leak", s)
dbutils.jobs.taskValues.set("nested", {"a": [s, "x" + s]})
dbutils.notebook.exit("exit:" + s)
"""

NOTEBOOK = """# Databricks notebook source
import subprocess
from headrace.runtime import dbutils
s = dbutils.secrets.get("prod", "pw")
subprocess.run(["sh", "-c", "echo nbsub:$0; printf 'split:hunter2-'; sleep 0.3; echo very-secret", s], check=True)
dbutils.jobs.taskValues.set("nb", s)

# COMMAND ----------

dbutils.notebook.exit("nbexit:" + s)
"""

SHELL = "printf 'sh:hunter2-'; sleep 0.3; echo 'very-secret'; cat $HEADRACE_HOME/secrets/prod/pw"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("secrets")
    srv = Server(root, workers=3)
    # A data directory Headrace creates itself (the fixture's own home already exists).
    srv.home = root / "fresh" / "home"
    srv.env["HEADRACE_HOME"] = str(srv.home)
    secrets = srv.home / "secrets" / "prod"
    try:
        srv.start()
        secrets.mkdir(parents=True)
        (secrets / "pw").write_text(SECRET + "\n")
        (secrets / "other").write_text(OTHER)
        yield srv
    finally:
        srv.close()


def api(server: Server, token: str, route: str, body: dict | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"}
    url = f"{server.url}/api/2.2/jobs/{route}"
    if body is None:
        return httpx.get(url, headers=headers, timeout=15)
    return httpx.post(url, json=body, headers=headers, timeout=15)


def test_no_task_output_or_value_shows_a_secret(server: Server) -> None:
    token = server.token("alice")
    script = server.root / "leak.py"
    script.write_text(textwrap.dedent(PYTHON_TASK))
    notebook = server.root / "leak_nb.py"
    notebook.write_text(NOTEBOOK)
    tasks = [
        {"task_key": "py", "spark_python_task": {"python_file": str(script)}},
        {"task_key": "nb", "notebook_task": {"notebook_path": str(notebook)}},
        {"task_key": "sh", "shell_command_task": {"command": SHELL}},
        {
            "task_key": "down",
            "depends_on": [{"task_key": "py"}],
            "shell_command_task": {"command": "echo got:{{tasks.py.values.leak}}"},
        },
    ]
    run_id = api(server, token, "runs/submit", {"run_name": "leaky", "tasks": tasks}).json()[
        "run_id"
    ]

    def ended() -> dict | None:
        run = api(server, token, f"runs/get?run_id={run_id}").json()
        return run if run["state"]["life_cycle_state"] == "TERMINATED" else None

    run = wait_for(ended, 120, "the run to end")
    assert run["state"]["result_state"] == "SUCCESS", json.dumps(run, indent=1)
    seen = {}
    for task in run["tasks"]:
        out = api(server, token, f"runs/get-output?run_id={task['run_id']}").json()
        seen[task["task_key"]] = out
        text = json.dumps(out)
        assert SECRET not in text and OTHER not in text, (task["task_key"], text)
        assert "hunter2-" not in out.get("logs", "").replace(REDACTED, ""), out.get("logs")
    py_log = seen["py"]["logs"]
    for mark in ("buffer:", "oswrite:", "stderr:", "sub:"):
        assert f"{mark}{REDACTED}" in py_log, py_log
    assert REDACTED in py_log.replace(f"sub:{REDACTED}", "")  # the cat of the other secret
    assert seen["py"]["task_values"] == {
        "leak": REDACTED,
        "nested": {"a": [REDACTED, "x" + REDACTED]},
    }
    assert seen["py"]["notebook_output"]["result"] == f"exit:{REDACTED}"
    assert f"nbsub:{REDACTED}" in seen["nb"]["logs"] and f"split:{REDACTED}" in seen["nb"]["logs"]
    assert seen["nb"]["task_values"] == {"nb": REDACTED}
    assert seen["nb"]["notebook_output"]["result"] == f"nbexit:{REDACTED}"
    assert f"sh:{REDACTED}" in seen["sh"]["logs"]
    assert f"got:{REDACTED}" in seen["down"]["logs"]
    # Nothing on disk either: every log file of the run.
    logs = server.home / "logs" / str(run_id)
    for path in logs.rglob("*"):
        if path.is_file() and path.name != "context.json":
            assert SECRET.encode() not in path.read_bytes(), path


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_data_directory_store_and_logs_are_private(server: Server) -> None:
    token = server.token("bob")
    body = {
        "run_name": "p",
        "tasks": [{"task_key": "t", "shell_command_task": {"command": "echo hi"}}],
    }
    run_id = api(server, token, "runs/submit", body).json()["run_id"]
    wait_for(
        lambda: (
            api(server, token, f"runs/get?run_id={run_id}").json()["state"]["life_cycle_state"]
            == "TERMINATED"
        ),
        60,
    )
    assert mode(server.home) == 0o700
    assert mode(server.home / "headrace.db") == 0o600
    for extra in ("headrace.db-wal", "headrace.db-shm"):
        if (server.home / extra).exists():
            assert mode(server.home / extra) == 0o600, extra
    assert mode(server.home / "logs") == 0o700
    (log,) = (server.home / "logs" / str(run_id)).rglob("output.log")
    assert mode(log) == 0o600
