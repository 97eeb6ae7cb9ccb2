"""The Jobs API forms older clients send: content types, GET parameters in a JSON body, the
single-task runs/submit form, run-now's legacy task parameters and `only`, run_page_url,
runs/export, page tokens both ways, durations in runs/list."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from support import Server, User, settle, wait_for


@pytest.fixture
def api(server: Server, alice: User):
    with httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {alice.token}"}, timeout=30
    ) as client:
        yield client


def _raw(api: httpx.Client, method: str, path: str, body: Any, content_type: str | None):
    headers = {} if content_type is None else {"Content-Type": content_type}
    return api.request(method, path, content=json.dumps(body).encode(), headers=headers)


def _script(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize("content_type", ["text/json", None, "application/x-www-form-urlencoded"])
def test_json_bodies_under_any_content_type_on_every_route(api, alice: User, content_type):
    """Jobs, permissions (PUT/PATCH) and workspace routes all read the body as JSON."""
    settings = {"name": f"ct-{content_type}", "tasks": [{"task_key": "a", "shell_command_task": {"command": "true"}}]}  # fmt: skip
    created = _raw(api, "POST", "/api/2.1/jobs/create", settings, content_type)
    assert created.status_code == 200, created.text
    job_id = created.json()["job_id"]
    acl = {"access_control_list": [{"user_name": "bob", "permission_level": "CAN_VIEW"}]}
    for method in ("PUT", "PATCH"):
        done = _raw(api, method, f"/api/2.0/permissions/jobs/{job_id}", acl, content_type)
        assert done.status_code == 200, done.text
    folder = f"/Users/alice/ct-{content_type}".replace("/", "/")
    done = _raw(api, "POST", "/api/2.0/workspace/mkdirs", {"path": folder}, content_type)
    assert done.status_code == 200, done.text
    done = _raw(api, "POST", "/api/2.0/workspace/delete", {"path": folder}, content_type)
    assert done.status_code == 200, done.text


def test_get_parameters_from_a_json_body(api, alice: User, tmp_path):
    job_id = alice.w.jobs.create(name="get-body").job_id
    got = api.request("GET", "/api/2.1/jobs/get", json={"job_id": job_id})
    assert got.status_code == 200 and got.json()["job_id"] == job_id
    listed = api.request("GET", "/api/2.1/jobs/list", json={"name": "get-body", "limit": 1})
    assert [j["job_id"] for j in listed.json()["jobs"]] == [job_id]
    # The query string wins over the body.
    missing = api.request(
        "GET", f"/api/2.1/jobs/get?job_id={job_id + 999}", json={"job_id": job_id}
    )
    assert missing.status_code == 400


def test_single_task_submit_form(api, alice: User, tmp_path):
    script = _script(tmp_path, "argv.py", "import sys\nprint('argv', sys.argv[1:])\n")
    body = {
        "run_name": "legacy single task",
        "spark_python_task": {"python_file": script, "parameters": ["a", "b"]},
        "libraries": [],
        "timeout_seconds": 120,
    }
    done = api.post("/api/2.0/jobs/runs/submit", json=body)
    assert done.status_code == 200, done.text
    run = settle(alice.w, done.json()["run_id"])
    (task,) = run.tasks
    assert run.state.result_state.value == "SUCCESS", alice.w.jobs.get_run_output(task.run_id)
    assert (task.task_key, task.timeout_seconds) == ("legacy_single_task", 120)
    assert run.run_page_url.endswith(f"/runs/{run.run_id}")
    assert task.run_page_url.endswith(f"/runs/{run.run_id}/tasks/{task.run_id}")
    both = api.post("/api/2.0/jobs/runs/submit", json={**body, "tasks": [{"task_key": "x"}]})
    assert both.status_code == 400 and "spark_python_task" in both.json()["message"]


def test_run_now_legacy_parameters_and_only(api, alice: User, tmp_path):
    script = _script(tmp_path, "p.py", "import sys\nprint('argv', sys.argv[1:])\n")
    settings = {
        "name": "legacy-params",
        "tasks": [
            {"task_key": "py", "spark_python_task": {"python_file": script, "parameters": ["old"]}},
            {"task_key": "mid", "depends_on": [{"task_key": "py"}], "shell_command_task": {"command": "true"}},
            {"task_key": "sh", "depends_on": [{"task_key": "mid"}], "shell_command_task": {"command": "true"}},
        ],
    }  # fmt: skip
    job_id = api.post("/api/2.1/jobs/create", json=settings).json()["job_id"]
    done = api.post(
        "/api/2.1/jobs/run-now",
        json={"job_id": job_id, "python_params": ["new", "args"], "only": ["py", "sh"]},
    )
    assert done.status_code == 200, done.text
    run = settle(alice.w, done.json()["run_id"])
    assert run.state.result_state.value == "SUCCESS"
    tasks = {t.task_key: t for t in run.tasks}
    assert sorted(tasks) == ["py", "sh"]  # `only`: mid left out, sh no longer waits for it
    assert tasks["py"].spark_python_task.parameters == ["new", "args"]
    out = alice.w.jobs.get_run_output(tasks["py"].run_id)
    assert "argv ['new', 'args']" in out.logs
    bad = api.post("/api/2.1/jobs/run-now", json={"job_id": job_id, "only": ["nope"]})
    assert bad.status_code == 400 and "nope" in bad.json()["message"]
    bad = api.post("/api/2.1/jobs/run-now", json={"job_id": job_id, "jar_params": "x"})
    assert bad.status_code == 400 and "jar_params" in bad.json()["message"]


def test_legacy_params_refused_with_job_parameters(api, alice: User):
    settings = {
        "name": "with-params",
        "parameters": [{"name": "p", "default": "1"}],
        "tasks": [{"task_key": "a", "shell_command_task": {"command": "true"}}],
    }
    job_id = api.post("/api/2.1/jobs/create", json=settings).json()["job_id"]
    bad = api.post(
        "/api/2.1/jobs/run-now",
        json={"job_id": job_id, "job_parameters": {"p": "2"}, "notebook_params": {"x": "y"}},
    )
    assert bad.status_code == 400 and "notebook_params" in bad.json()["message"]


def test_runs_list_has_durations_and_page_tokens_both_ways(alice: User, api):
    for i in range(3):
        api.post(
            "/api/2.1/jobs/runs/submit",
            json={"run_name": f"pages-{i}", "shell_command_task": {"command": "true"}},
        )
    listed = api.get("/api/2.1/jobs/runs/list", params={"limit": 2}).json()
    assert all("run_duration" in r and "run_page_url" in r for r in listed["runs"])
    second = api.get(
        "/api/2.1/jobs/runs/list", params={"limit": 2, "page_token": listed["next_page_token"]}
    ).json()
    assert second["prev_page_token"] == "0"
    # An SDK example reads run_duration without expand_tasks.
    assert all(r.run_duration is not None for r in alice.w.jobs.list_runs(limit=2))


def test_jobs_list_prev_page_token(api, alice: User):
    ids = [alice.w.jobs.create(name=f"prev-page-{i}").job_id for i in range(5)]
    first = api.get("/api/2.1/jobs/list", params={"limit": 2, "name": "prev-page-0"}).json()
    assert "prev_page_token" not in first
    page1 = api.get("/api/2.1/jobs/list", params={"limit": 2}).json()
    page2 = api.get(
        "/api/2.1/jobs/list", params={"limit": 2, "page_token": page1["next_page_token"]}
    ).json()
    back = api.get(
        "/api/2.1/jobs/list", params={"limit": 2, "page_token": page2["prev_page_token"]}
    ).json()
    assert [j["job_id"] for j in back["jobs"]] == [j["job_id"] for j in page1["jobs"]]
    assert ids


def test_runs_export_returns_the_executed_notebook_html(api, alice: User, server: Server):
    import base64

    nb = "# Databricks notebook source\nprint('exported cell output')\n"
    api.post("/api/2.0/workspace/mkdirs", json={"path": "/Users/alice/export"})
    api.post(
        "/api/2.0/workspace/import",
        json={
            "path": "/Users/alice/export/nb",
            "content": base64.b64encode(nb.encode()).decode(),
            "format": "SOURCE",
            "language": "PYTHON",
        },
    )
    done = api.post(
        "/api/2.1/jobs/runs/submit",
        json={"run_name": "export", "notebook_task": {"notebook_path": "/Users/alice/export/nb"}},
    )
    run = settle(alice.w, done.json()["run_id"], timeout=60)
    assert run.state.result_state.value == "SUCCESS", run.state
    exported = alice.w.jobs.export_run(run.tasks[0].run_id)
    (view,) = exported.views
    assert view.name == "nb" and view.type.value == "NOTEBOOK"
    assert "exported cell output" in view.content and "<html" in view.content
    # A job run with one task exports that task.
    assert alice.w.jobs.export_run(run.run_id).views[0].name == "nb"
    assert wait_for(lambda: True)


def test_jobs_api_2_0_single_task_job_settings(api, alice: User):
    """`databricks jobs create` of the legacy CLI sends Jobs API 2.0 settings: one task."""
    settings = {
        "name": "old style",
        "max_retries": 1,
        "timeout_seconds": 60,
        "spark_python_task": {"python_file": "/tmp/none.py"},
    }
    created = api.post("/api/2.0/jobs/create", json=settings)
    assert created.status_code == 200, created.text
    job = alice.w.jobs.get(created.json()["job_id"])
    (task,) = job.settings.tasks
    assert (task.task_key, task.max_retries) == ("old_style", 1)
    assert job.settings.timeout_seconds == 60
    reset = api.post(
        "/api/2.0/jobs/reset",
        json={"job_id": job.job_id, "new_settings": {**settings, "name": "renamed"}},
    )
    assert reset.status_code == 200, reset.text
    assert alice.w.jobs.get(job.job_id).settings.tasks[0].task_key == "renamed"
