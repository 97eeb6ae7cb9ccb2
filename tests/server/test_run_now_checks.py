"""run-now reads the token, the job and its version in one statement (issue 18); its errors
keep their order: 401 (no or bad token), then the body's 400s, then the job's (a missing job
is 400 as on Databricks, see api/errors.py) and 403."""

from __future__ import annotations

import json
from typing import Any

import httpx

from support import Server, User, shell


def _run_now(server: Server, token: str | None, body: dict[str, Any]) -> httpx.Response:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    return httpx.post(f"{server.url}/api/2.2/jobs/run-now", json=body, headers=headers)


def test_run_now_errors_come_in_order(server: Server, alice: User, bob: User) -> None:
    job_id = alice.w.jobs.create(name="run-now-order", tasks=[shell("t", "true")]).job_id
    bad_body = {"job_id": job_id, "no_such_field": 1}
    for token in (None, "hdr_not-a-token"):
        for body in (bad_body, {"job_id": "x"}, {"job_id": 10**12}, {"job_id": job_id}):
            response = _run_now(server, token, body)
            assert response.status_code == 401, (token, body, response.text)
    response = _run_now(server, bob.token, bad_body)  # 400 before bob's 403
    assert response.status_code == 400 and "no_such_field" in response.text, response.text
    response = _run_now(server, alice.token, {"job_id": 10**12})
    assert response.status_code == 400, response.text
    assert response.json() == {
        "error_code": "INVALID_PARAMETER_VALUE",
        "message": f"Job {10**12} does not exist.",
    }
    response = _run_now(server, bob.token, {"job_id": job_id})
    assert response.status_code == 403 and "bob" in response.text, response.text
    response = _run_now(server, alice.token, {"job_id": job_id})
    assert response.status_code == 200 and isinstance(response.json()["run_id"], int)


def test_a_revoked_token_cannot_run_a_job(server: Server, admin: User) -> None:
    token = server.token("run-now-revoked", admin=True)
    job_id = admin.w.jobs.create(name="run-now-revoked", tasks=[shell("t", "true")]).job_id
    listed = server.cli("tokens", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    tokens = json.loads(listed.stdout)["tokens"]
    (mine,) = [t for t in tokens if t["user_name"] == "run-now-revoked"]
    revoked = server.cli("tokens", "revoke", str(mine["token_id"]))
    assert revoked.returncode == 0, revoked.stderr
    for body in ({"job_id": job_id}, {"job_id": job_id, "no_such_field": 1}):
        response = _run_now(server, token, body)
        assert response.status_code == 401 and "revoked" in response.text, response.text
