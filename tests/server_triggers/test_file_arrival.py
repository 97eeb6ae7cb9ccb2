"""A real `headrace server`: a file dropped into a watched directory starts exactly one run."""

from __future__ import annotations

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


def test_dropped_file_starts_exactly_one_run_that_succeeds(hr: Headrace, tmp_path: Path) -> None:
    token = hr("tokens", "create", "--user", "alice")
    assert token.returncode == 0, str(token)
    port = free_port()
    server = hr.popen("server", "--port", str(port), "--workers", "2")
    landing = tmp_path / "landing"
    landing.mkdir()
    (landing / "before.csv").write_text("here before the job")
    seen = tmp_path / "seen-location.txt"
    headers = {"Authorization": f"Bearer {token.stdout.strip()}"}
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=10) as client:
        try:
            wait_for(lambda: server.poll() is not None or _up(client), 30, "the server")
            assert server.poll() is None, "the server exited"
            created = client.post(
                "/api/2.2/jobs/create",
                json={
                    "name": "on-new-files",
                    "trigger": {"file_arrival": {"url": str(landing)}},
                    "tasks": [
                        {
                            "task_key": "ingest",
                            "shell_command_task": {
                                "command": f"echo '{{{{job.trigger.file_arrival.location}}}}'"
                                f" > {seen}"
                            },
                        }
                    ],
                },
            )
            assert created.status_code == 200, created.text
            job_id = created.json()["job_id"]

            (landing / "data.csv").write_text("a,b\n1,2\n")

            def ended() -> list[dict[str, Any]] | None:
                runs = _runs(client, job_id)
                done = [r for r in runs if r["state"]["life_cycle_state"] == "TERMINATED"]
                return runs if done else None

            runs = wait_for(ended, 30, "the file-arrival run to end")
            assert len(runs) == 1
            run = runs[0]
            assert run["trigger"] == "FILE_ARRIVAL"
            assert run["state"]["result_state"] == "SUCCESS", run
            assert run["trigger_info"]["file_arrival"] == {
                "location": str(landing),
                "files": [str(landing / "data.csv")],
            }
            assert seen.read_text().strip() == str(landing)

            # More polls and sweeps of the server later: still exactly one run.
            time.sleep(3)
            assert len(_runs(client, job_id)) == 1
        finally:
            if server.poll() is None:
                server.send_signal(signal.SIGTERM)
    server.wait(timeout=30)
    errors = server.stderr.read() if server.stderr is not None else ""
    assert "Traceback" not in errors, errors
