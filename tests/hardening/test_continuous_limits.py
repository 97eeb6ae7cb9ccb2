"""Continuous jobs (issue 11, 2.3) on a real server: a job that ends at once waits the least
interval between run starts, and a non-admin may own only so many unpaused continuous jobs."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import httpx
import pytest

from support import Server, wait_for

INTERVAL_S = 1.5
CAP = 2
INSTANT = [{"task_key": "c", "condition_task": {"op": "EQUAL_TO", "left": "1", "right": "1"}}]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("continuous"), workers=1)
    srv.env["HEADRACE_CONTINUOUS_MIN_INTERVAL_SECONDS"] = str(INTERVAL_S)
    srv.env["HEADRACE_MAX_CONTINUOUS_JOBS_PER_USER"] = str(CAP)
    try:
        srv.start()
        yield srv
    finally:
        srv.close()


def api(server: Server, token: str, route: str, body: dict | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"}
    url = f"{server.url}/api/2.2/jobs/{route}"
    if body is None:
        return httpx.get(url, headers=headers, timeout=15)
    return httpx.post(url, json=body, headers=headers, timeout=15)


def create(server: Server, token: str, name: str, paused: bool = False) -> httpx.Response:
    cont = {"pause_status": "PAUSED" if paused else "UNPAUSED"}
    return api(server, token, "create", {"name": name, "tasks": INSTANT, "continuous": cont})


def test_continuous_jobs_are_capped_and_paced(server: Server) -> None:
    alice, root = server.token("alice"), server.token("root", admin=True)
    first = create(server, alice, "c1").json()["job_id"]
    assert create(server, alice, "c2").status_code == 200
    refused = create(server, alice, "c3")
    assert refused.status_code == 400, refused.text
    assert refused.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    message = refused.json()["message"]
    assert (
        message.startswith("continuous: ") and "HEADRACE_MAX_CONTINUOUS_JOBS_PER_USER=2" in message
    )
    paused = create(server, alice, "c3", paused=True)
    assert paused.status_code == 200  # a paused one runs nothing: allowed
    unpause = {"job_id": paused.json()["job_id"], "new_settings": {"continuous": {}}}
    assert api(server, alice, "update", unpause).status_code == 400
    reset = {
        "job_id": paused.json()["job_id"],
        "new_settings": {"name": "c3", "tasks": INSTANT, "continuous": {}},
    }
    assert api(server, alice, "reset", reset).status_code == 400
    assert create(server, root, "admin's").status_code == 200  # admins are not capped

    def runs() -> list[dict]:
        listed = api(server, alice, f"runs/list?job_id={first}&completed_only=true").json()
        found = listed.get("runs", [])
        return found if len(found) >= 3 else []

    starts = sorted(r["start_time"] for r in wait_for(runs, 60, "three runs of c1"))
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert all(gap >= INTERVAL_S * 1000 for gap in gaps), gaps
    for job in api(server, root, "list?limit=100").json()["jobs"]:
        api(server, root, "delete", {"job_id": job["job_id"]})
