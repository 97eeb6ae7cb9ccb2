"""Issue 11, 2.9 (API part): idempotency tokens per user, runs/cancel of a task-run id,
runs/submit without tasks, and UI sessions that signing out really ends — on a real server."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from support import Server, wait_for


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("smaller"), workers=2)
    try:
        srv.start()
        yield srv
    finally:
        srv.close()


@pytest.fixture(scope="module")
def tokens(server: Server) -> dict[str, str]:
    return {name: server.token(name) for name in ("alice", "bob")}


def api(server: Server, token: str, route: str, body: dict | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"}
    url = f"{server.url}/api/2.2/jobs/{route}"
    if body is None:
        return httpx.get(url, headers=headers, timeout=15)
    return httpx.post(url, json=body, headers=headers, timeout=15)


def submit_body(command: str, token: str | None = None) -> dict:
    body: dict = {
        "run_name": "one-off",
        "tasks": [{"task_key": "t", "shell_command_task": {"command": command}}],
    }
    if token is not None:
        body["idempotency_token"] = token
    return body


def test_idempotency_tokens_are_per_user(server: Server, tokens: dict[str, str]) -> None:
    first = api(server, tokens["alice"], "runs/submit", submit_body("true", "shared-token-1"))
    assert first.status_code == 200, first.text
    again = api(server, tokens["alice"], "runs/submit", submit_body("true", "shared-token-1"))
    assert again.json()["run_id"] == first.json()["run_id"]  # the same user: the same run
    other = api(server, tokens["bob"], "runs/submit", submit_body("true", "shared-token-1"))
    assert other.status_code == 200, other.text  # not blocked by alice's token
    assert other.json()["run_id"] != first.json()["run_id"]
    # ...and run-now too: another user's token never finds (or blocks) a run.
    mine = api(server, tokens["alice"], "runs/submit", submit_body("true", "shared-token-2"))
    job = api(
        server, tokens["bob"], "create", {"name": "idem", "tasks": submit_body("true")["tasks"]}
    )
    body = {"job_id": job.json()["job_id"], "idempotency_token": "shared-token-2"}
    now = api(server, tokens["bob"], "run-now", body)
    assert now.status_code == 200, now.text
    assert now.json()["run_id"] != mine.json()["run_id"]
    assert api(server, tokens["bob"], "run-now", body).json()["run_id"] == now.json()["run_id"]


@pytest.mark.parametrize("body", [{}, {"run_name": "nothing"}, {"tasks": []}])
def test_submit_without_tasks_is_refused(
    server: Server, tokens: dict[str, str], body: dict
) -> None:
    before = api(server, tokens["alice"], "runs/list?limit=25").json().get("runs", [])
    done = api(server, tokens["alice"], "runs/submit", body)
    assert done.status_code == 400, done.text
    assert done.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "tasks" in done.json()["message"]
    assert api(server, tokens["alice"], "runs/list?limit=25").json().get("runs", []) == before


def test_cancel_accepts_a_task_run_id(server: Server, tokens: dict[str, str]) -> None:
    run_id = api(server, tokens["alice"], "runs/submit", submit_body("sleep 60")).json()["run_id"]

    def task_run_id() -> int | None:
        run = api(server, tokens["alice"], f"runs/get?run_id={run_id}").json()
        task = run["tasks"][0]
        return task["run_id"] if task["state"]["life_cycle_state"] == "RUNNING" else None

    task_id = wait_for(task_run_id, 30, "the task to run")
    assert api(server, tokens["alice"], f"runs/get?run_id={task_id}").status_code == 200
    done = api(server, tokens["alice"], "runs/cancel", {"run_id": task_id})
    assert done.status_code == 200, done.text

    def ended() -> dict | None:
        run = api(server, tokens["alice"], f"runs/get?run_id={run_id}").json()
        return run if run["state"]["life_cycle_state"] == "TERMINATED" else None

    run = wait_for(ended, 30, "the run to end")
    assert run["state"]["result_state"] == "CANCELED"
    # bob may not cancel alice's run through a task-run id either.
    other = api(server, tokens["alice"], "runs/submit", submit_body("sleep 60")).json()["run_id"]
    wait_for(
        lambda: api(server, tokens["alice"], f"runs/get?run_id={other}").json()["tasks"][0][
            "run_id"
        ],
        30,
    )
    tid = api(server, tokens["alice"], f"runs/get?run_id={other}").json()["tasks"][0]["run_id"]
    assert api(server, tokens["bob"], "runs/cancel", {"run_id": tid}).status_code == 403
    assert api(server, tokens["alice"], "runs/cancel", {"run_id": other}).status_code == 200
    missing = api(server, tokens["alice"], "runs/cancel", {"run_id": 987654321})
    looked_up = api(server, tokens["alice"], "runs/get?run_id=987654321")
    assert (missing.status_code, missing.json()) == (looked_up.status_code, looked_up.json())


def sign_in(client: httpx.Client, token: str) -> httpx.Client:
    r = client.post("/login", data={"token": token, "next": "/jobs"})
    assert r.status_code == 303, r.text
    return client


def browser(server: Server) -> httpx.Client:
    return httpx.Client(base_url=server.url, follow_redirects=False, timeout=15)


def test_the_ui_cookie_is_a_session_id_that_signing_out_ends(
    server: Server, tokens: dict[str, str]
) -> None:
    with browser(server) as ui:
        sign_in(ui, tokens["alice"])
        cookie = ui.cookies["headrace_session"]
        assert tokens["alice"] not in cookie and cookie != tokens["alice"]
        page = ui.get("/jobs")
        assert page.status_code == 200
        csrf = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text).group(1)
        # A copy of the cookie (another browser, a stolen one) works while signed in...
        with browser(server) as thief:
            thief.cookies.set("headrace_session", cookie)
            assert thief.get("/jobs").status_code == 200
            out = ui.post("/logout", data={"csrf_token": csrf})
            assert out.status_code == 303
            # ...and not after signing out: the session is gone server-side.
            assert thief.get("/jobs").status_code == 303
        # The raw API token as a cookie does not sign anyone in.
        with browser(server) as raw:
            raw.cookies.set("headrace_session", tokens["alice"])
            assert raw.get("/jobs").status_code == 303
    with browser(server) as again:
        sign_in(again, tokens["bob"])
        assert again.get("/jobs").status_code == 200
