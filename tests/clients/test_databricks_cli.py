"""The legacy `databricks-cli` (PyPI `databricks-cli` 0.18, its own virtualenv) against a real
`headrace server` over https: jobs, runs, workspace, fs, secrets and tokens commands."""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import TlsServer


class Cli:
    """`databricks ...` with DATABRICKS_HOST/TOKEN pointing at the server."""

    def __init__(self, python: Path, server: TlsServer, token: str, home: Path) -> None:
        self.exe = python.parent / "databricks"
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(home),
            "DATABRICKS_HOST": server.url,
            "DATABRICKS_TOKEN": token,
            "REQUESTS_CA_BUNDLE": str(server.cert),
            "NO_PROXY": "127.0.0.1,localhost",
        }
        self.cwd = home

    def __call__(self, *args: str, version: str = "2.1", ok: bool = True) -> str:
        env = {**self.env, "DATABRICKS_JOBS_API_VERSION": version}
        done = subprocess.run(
            [str(self.exe), *args], env=env, cwd=self.cwd, capture_output=True, text=True,
            timeout=180,
        )  # fmt: skip
        if ok:
            assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
        else:
            assert done.returncode != 0, f"{args} should fail: {done.stdout}"
        return done.stdout + done.stderr if not ok else done.stdout

    def json(self, *args: str, **kw: Any) -> Any:
        return json.loads(self(*args, **kw))


def _loopback_443() -> str | None:
    """A free 127.x.y.z address whose port 443 this process may bind, if any."""
    for _ in range(20):
        address = f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(2, 254)}"
        with socket.socket() as probe:
            try:
                probe.bind((address, 443))
            except OSError:
                continue
            return address
    return None


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory) -> Iterator[TlsServer]:
    """A server on port 443 of its own loopback address: the legacy CLI drops any port given
    in DATABRICKS_HOST (its ApiClient keeps only scheme and host name)."""
    address = _loopback_443()
    if address is None:
        pytest.skip("the legacy databricks-cli only reaches port 443, which this user cannot bind")
    srv = TlsServer(tmp_path_factory.mktemp("dbcli-server"))
    srv.port = 443
    srv.url = f"https://{address}"
    srv.extra_args += ["--host", address, "--port", "443"]
    try:
        srv.start()
        yield srv
    finally:
        srv.close()


@pytest.fixture(scope="module")
def cli(databricks_cli_python: Path, tls_server: TlsServer, tmp_path_factory) -> Cli:
    home = tmp_path_factory.mktemp("dbcli")
    return Cli(databricks_cli_python, tls_server, tls_server.token("carol"), home)


def test_workspace_commands(cli: Cli):
    nb = cli.cwd / "nb.py"
    nb.write_text(
        "# Databricks notebook source\n"
        "dbutils.widgets.text('name', 'x')\n"
        "# COMMAND ----------\n"
        "dbutils.notebook.exit('hi ' + dbutils.widgets.get('name'))\n"
    )
    cli("workspace", "mkdirs", "/Users/carol/cli")
    cli("workspace", "import", "-l", "PYTHON", "-f", "SOURCE", "-o", str(nb), "/Users/carol/cli/nb")
    assert "nb" in cli("workspace", "ls", "/Users/carol/cli")
    out = cli.cwd / "back.py"
    cli("workspace", "export", "-o", "/Users/carol/cli/nb", str(out))
    assert "dbutils.notebook.exit" in out.read_text()


def test_jobs_and_runs_commands(cli: Cli):
    test_workspace_commands(cli)  # the notebook the jobs run
    spec = cli.cwd / "job.json"
    spec.write_text(
        json.dumps(
            {
                "name": "cli-job",
                "tasks": [
                    {"task_key": "nb", "notebook_task": {"notebook_path": "/Users/carol/cli/nb"}}
                ],
            }
        )
    )
    job_id = cli.json("jobs", "create", "--json-file", str(spec))["job_id"]
    assert cli.json("jobs", "get", "--job-id", str(job_id))["settings"]["name"] == "cli-job"
    assert "cli-job" in cli("jobs", "list")
    run = cli.json(
        "jobs", "run-now", "--job-id", str(job_id), "--notebook-params", '{"name": "cli"}'
    )
    run_id = run["run_id"]
    # `runs submit --wait` in the Jobs API 2.0 single-task form, with run_page_url printed.
    submit = cli.cwd / "submit.json"
    submit.write_text(
        json.dumps(
            {
                "run_name": "cli submit",
                "notebook_task": {
                    "notebook_path": "/Users/carol/cli/nb",
                    "base_parameters": {"name": "w"},
                },
            }
        )
    )
    waited = cli("runs", "submit", "--json-file", str(submit), "--wait", version="2.0")
    submitted = json.loads(waited[: waited.index("}") + 1])["run_id"]
    got = cli.json("runs", "get", "--run-id", str(submitted), version="2.0")
    assert got["state"]["result_state"] == "SUCCESS"
    assert got["run_page_url"].endswith(f"/runs/{submitted}")
    # The run-now run: wait through `runs get`, then its task's output.
    import time

    deadline = time.monotonic() + 120
    while (state := cli.json("runs", "get", "--run-id", str(run_id))["state"]).get(
        "life_cycle_state"
    ) not in ("TERMINATED", "INTERNAL_ERROR", "SKIPPED"):
        assert time.monotonic() < deadline, state
        time.sleep(0.5)
    task_run = cli.json("runs", "get", "--run-id", str(run_id))["tasks"][0]["run_id"]
    output = cli.json("runs", "get-output", "--run-id", str(task_run))
    assert output["notebook_output"]["result"] == "hi cli"
    assert str(run_id) in cli("runs", "list", "--job-id", str(job_id))
    cli("jobs", "delete", "--job-id", str(job_id))


def test_fs_commands(cli: Cli, tls_server: TlsServer):
    local = cli.cwd / "data.bin"
    data = os.urandom(3 << 20)  # 3 MB: the CLI streams it in blocks
    local.write_bytes(data)
    cli("fs", "mkdirs", "dbfs:/cli/in")
    cli("fs", "cp", str(local), "dbfs:/cli/in/data.bin")
    assert (tls_server.home / "dbfs" / "cli" / "in" / "data.bin").read_bytes() == data
    assert "data.bin" in cli("fs", "ls", "dbfs:/cli/in")
    cli("fs", "mv", "dbfs:/cli/in/data.bin", "dbfs:/cli/moved.bin")
    back = cli.cwd / "back.bin"
    cli("fs", "cp", "dbfs:/cli/moved.bin", str(back))
    assert back.read_bytes() == data
    small = cli.cwd / "note.txt"
    small.write_text("hello dbfs\n")
    cli("fs", "cp", str(small), "dbfs:/cli/note.txt")
    assert cli("fs", "cat", "dbfs:/cli/note.txt") == "hello dbfs\n"
    cli("fs", "rm", "-r", "dbfs:/cli")
    assert not (tls_server.home / "dbfs" / "cli").exists()


def test_secrets_commands(cli: Cli):
    cli("secrets", "create-scope", "--scope", "cli-scope", "--initial-manage-principal", "users")
    assert "cli-scope" in cli("secrets", "list-scopes")
    cli("secrets", "put", "--scope", "cli-scope", "--key", "pw", "--string-value", "cli-s3cret")
    listed = cli("secrets", "list", "--scope", "cli-scope")
    assert "pw" in listed and "cli-s3cret" not in listed
    cli(
        "secrets", "put-acl", "--scope", "cli-scope", "--principal", "alice", "--permission", "READ"
    )
    assert "alice" in cli("secrets", "list-acls", "--scope", "cli-scope")
    cli("secrets", "delete", "--scope", "cli-scope", "--key", "pw")
    cli("secrets", "delete-scope", "--scope", "cli-scope")
    assert "cli-scope" not in cli("secrets", "list-scopes")


def test_tokens_commands(cli: Cli):
    made = cli.json("tokens", "create", "--comment", "from the cli", "--lifetime-seconds", "600")
    token_id = made["token_info"]["token_id"]
    ids = lambda: [t["token_id"] for t in cli.json("tokens", "list")["token_infos"]]  # noqa: E731
    assert token_id in ids()
    cli("tokens", "revoke", "--token-id", token_id)
    assert token_id not in ids()
