"""The UI of issue 16: a job's plan page, starting a backfill from it, backfills grouped by job."""

from __future__ import annotations

import re

import httpx

from support import Server, wait_for


def _signed_in(server: Server, user: str) -> tuple[httpx.Client, str, str]:
    token = server.token(user)
    client = httpx.Client(base_url=server.url, follow_redirects=False, timeout=30)
    assert client.post("/login", data={"token": token, "next": "/jobs"}).status_code == 303
    found = re.search(r'name="csrf_token" value="([0-9a-f]+)"', client.get("/jobs").text)
    assert found
    return client, found.group(1), token


def test_plan_page_backfill_form_and_grouped_backfills(server: Server) -> None:
    client, csrf, token = _signed_in(server, "ui-planner")
    api = {"Authorization": f"Bearer {token}"}
    body = {
        "name": "ui-daily",
        "max_concurrent_runs": 2,
        "tasks": [
            {"task_key": "extract", "shell_command_task": {"command": "true"}},
            {
                "task_key": "load",
                "depends_on": [{"task_key": "extract"}],
                "shell_command_task": {"command": "echo {{backfill.iso_date}}"},
            },
        ],
    }
    created = httpx.post(f"{server.url}/api/2.2/jobs/create", json=body, headers=api)
    job_id = created.json()["job_id"]
    try:
        assert f'href="/jobs/{job_id}/plan"' in client.get(f"/jobs/{job_id}").text
        plan = client.get(f"/jobs/{job_id}/plan")
        assert plan.status_code == 200, plan.text
        assert "2 tasks in 2 layers" in plan.text and "{{backfill.iso_date}}" in plan.text
        form = {"csrf_token": csrf, "from": "2026-11-01", "to": "2026-11-03", "every": "1d"}
        started = client.post(f"/jobs/{job_id}/backfill", data={**form, "max_concurrent": "2"})
        assert started.status_code == 303, started.text
        page = started.headers["location"].split("?")[0]
        assert page.startswith("/backfills/")

        def done() -> str | None:
            html = client.get(page).text
            return html if "DONE" in html else None

        html = wait_for(done, timeout=60, what="backfill done")
        assert html.count("SUCCEEDED") == 3 and "2026-11-02T00:00:00" in html
        grouped = client.get("/backfills").text
        assert f'<a href="/jobs/{job_id}">ui-daily</a>' in grouped and "3/3 done" in grouped
        bad = client.post(f"/jobs/{job_id}/backfill", data={**form, "from": "yesterday"})
        assert bad.status_code == 303 and "from" in bad.headers["location"]
        assert client.get("/backfills/999999").status_code == 404
    finally:
        client.close()


def test_queue_page_shows_waiting_tasks_in_claim_order_with_priority(server: Server) -> None:
    client, _csrf, token = _signed_in(server, "ui-queuer")
    api = httpx.Client(
        base_url=f"{server.url}/api/2.2", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    # No worker serves pool 'nowhere': both tasks wait, the priority-7 one first.
    body = {
        "name": "ui-queued",
        "priority": 7,
        "tasks": [
            {"task_key": "later", "priority": -2, "worker_pool": "nowhere",
             "shell_command_task": {"command": "true"}},
            {"task_key": "sooner", "worker_pool": "nowhere",
             "shell_command_task": {"command": "true"}},
        ],
    }  # fmt: skip
    try:
        job_id = api.post("/jobs/create", json=body).json()["job_id"]
        run_id = api.post("/jobs/run-now", json={"job_id": job_id}).json()["run_id"]

        def listed() -> str | None:
            html = client.get("/queue").text
            return html if "later" in html and "sooner" in html else None

        html = wait_for(listed, what="both tasks in the queue")
        assert html.index("sooner") < html.index("later")
        rows = re.findall(r"<td>(sooner|later)</td>\s*<td>.*?</td>\s*<td>(-?\d+)</td>", html, re.S)
        assert rows == [("sooner", "7"), ("later", "-2")], html
        stranger, _, _ = _signed_in(server, "ui-stranger")
        assert "sooner" not in stranger.get("/queue").text  # runs one may not view stay hidden
        stranger.close()
        api.post("/jobs/runs/cancel", json={"run_id": run_id})
    finally:
        client.close()
        api.close()
