"""A real `headrace server`: a SQL task writing a watched DuckDB table starts one TABLE run,
whose tasks see `{{job.trigger.table_update.*}}`."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Any

import httpx

from support import Headrace, free_port, wait_for


def _up(client: httpx.Client) -> bool:
    try:
        return client.get("/.well-known/databricks-config").status_code == 200
    except httpx.TransportError:
        return False


def _runs(client: httpx.Client, job_id: int) -> list[dict[str, Any]]:
    response = client.get("/api/2.2/jobs/runs/list", params={"job_id": job_id})
    response.raise_for_status()
    return response.json().get("runs", [])


def _create(client: httpx.Client, body: dict[str, Any]) -> int:
    created = client.post("/api/2.2/jobs/create", json=body)
    assert created.status_code == 200, created.text
    return int(created.json()["job_id"])


def _ended(client: httpx.Client, job_id: int, count: int) -> list[dict[str, Any]] | None:
    runs = _runs(client, job_id)
    done = [r for r in runs if r["state"]["life_cycle_state"] in ("TERMINATED", "INTERNAL_ERROR")]
    return runs if len(done) >= count else None


def test_writing_a_watched_table_starts_one_table_run(hr: Headrace, tmp_path: Path) -> None:
    token = hr("tokens", "create", "--user", "alice")
    assert token.returncode == 0, str(token)
    port = free_port()
    server = hr.popen("server", "--port", str(port), "--workers", "2")
    seen = tmp_path / "seen.txt"
    headers = {"Authorization": f"Bearer {token.stdout.strip()}"}
    echo = (
        "{{job.trigger.type}}|{{job.trigger.table_update.updated_tables}}|"
        "{{job.trigger.table_update.main.sales.orders.version}}|"
        "{{job.trigger.table_update.[main.sales.orders].commit_timestamp.iso_date}}"
    )
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=10) as client:
        try:
            wait_for(lambda: server.poll() is not None or _up(client), 30, "the server")
            assert server.poll() is None, "the server exited"
            watcher = _create(
                client,
                {
                    "name": "on-orders",
                    "trigger": {
                        "table_update": {
                            "table_names": ["main.sales.orders", "main.sales.other"],
                            "condition": "ANY_UPDATED",
                        }
                    },
                    "tasks": [
                        {
                            "task_key": "react",
                            "shell_command_task": {"command": f"echo '{echo}' > {seen}"},
                        }
                    ],
                },
            )
            writer = _create(
                client,
                {
                    "name": "writer",
                    "tasks": [
                        {
                            "task_key": "load",
                            "sql_task": {
                                "query": {
                                    "query_text": "CREATE SCHEMA IF NOT EXISTS sales;"
                                    " CREATE OR REPLACE TABLE sales.orders AS SELECT 1 AS id"
                                }
                            },
                        }
                    ],
                },
            )
            time.sleep(2)  # the watcher's first look: nothing owed yet
            assert _runs(client, watcher) == []

            started = client.post("/api/2.2/jobs/run-now", json={"job_id": writer})
            assert started.status_code == 200, started.text
            runs = wait_for(lambda: _ended(client, watcher, 1), 60, "the table-update run")
            assert len(runs) == 1
            run = runs[0]
            assert run["trigger"] == "TABLE"
            assert run["state"]["result_state"] == "SUCCESS", run
            info = run["trigger_info"]["table_update"]
            assert info["updated_tables"] == ["main.sales.orders"]
            assert info["tables"]["main.sales.orders"]["version"] == 1
            kind, updated, version, day = seen.read_text().strip().split("|")
            assert (kind, json.loads(updated), version) == ("table", ["main.sales.orders"], "1")
            assert len(day) == 10 and day[4] == "-"

            # No new write: no new run, however long the server keeps looking.
            time.sleep(3)
            assert len(_runs(client, watcher)) == 1
        finally:
            if server.poll() is None:
                server.send_signal(signal.SIGTERM)
    server.wait(timeout=30)
    errors = server.stderr.read() if server.stderr is not None else ""
    assert "Traceback" not in errors, errors
