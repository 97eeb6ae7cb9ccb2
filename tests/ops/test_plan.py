"""Plan preview (issue 16): `headrace plan FILE|JOB` and POST /api/2.2/jobs/plan."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import httpx

from support import Headrace, Server

JOB = """
name: planned
max_concurrent_runs: 1
parameters:
  - name: day
    default: "2026-01-01"
  - name: rid
    default: "{{job.run_id}}"
environments:
  - environment_key: e
    spec:
      client: "1"
      dependencies: [some-package-that-is-not-built]
job_clusters:
  - job_cluster_key: shared
    new_cluster: {num_workers: 0}
tasks:
  - task_key: a
    shell_command_task: {command: "echo {{job.parameters.day}} {{job.name}} {{task.name}}"}
  - task_key: c
    depends_on: [{task_key: a}]
    condition_task: {op: EQUAL_TO, left: "{{job.parameters.day}}", right: "2026-01-01"}
  - task_key: on_true
    depends_on: [{task_key: c, outcome: "true"}]
    shell_command_task: {command: "echo {{tasks.a.values.x}}"}
  - task_key: on_false
    depends_on: [{task_key: c, outcome: "false"}]
    spark_python_task: {python_file: x.py}
    environment_key: e
    job_cluster_key: shared
  - task_key: after_false
    depends_on: [{task_key: on_false}]
    shell_command_task: {command: "echo {{job.start_time.iso_date}}"}
"""


def _task(plan: dict[str, Any], key: str) -> dict[str, Any]:
    return next(t for t in plan["tasks"] if t["task_key"] == key)


def _dump(db: Path) -> list[Any]:
    """Every row of every table: what 'no side effects' compares."""
    con = sqlite3.connect(db)
    try:
        names = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return [(n, sorted(map(repr, con.execute(f'SELECT * FROM "{n}"')))) for n in sorted(names)]
    finally:
        con.close()


def test_plan_of_a_file_shows_layers_references_exclusions_and_environments(
    hr: Headrace,
) -> None:
    job = hr.write("job.yml", JOB)
    result = hr("plan", job, "--json")
    assert result.returncode == 0, str(result)
    plan = result.json()
    assert plan["layers"] == [["a"], ["c"], ["on_true", "on_false"], ["after_false"]]
    params = {p["name"]: p for p in plan["job_parameters"]}
    assert params["day"]["value"] == "2026-01-01"
    assert params["rid"]["waits_for"] == ["{{job.run_id}}"]
    assert _task(plan, "a")["settings"]["command"] == "echo 2026-01-01 planned a"
    assert _task(plan, "on_true")["waits_for"] == {"{{tasks.a.values.x}}": "upstream"}
    assert _task(plan, "after_false")["waits_for"] == {"{{job.start_time.iso_date}}": "run_start"}
    # The condition's operands are known up front: its outcome, and what it excludes for sure.
    assert _task(plan, "c")["outcome"] == "true"
    excluded = {e["task_key"]: e["certain"] for e in plan["may_be_excluded"]}
    assert excluded == {"on_false": True, "after_false": True}
    [env] = plan["environments"]
    assert env["tasks"] == ["on_false"] and env["cached"] is False and env["would_build"] is True
    [cluster] = plan["clusters"]
    assert cluster["job_cluster_key"] == "shared" and cluster["tasks"] == ["on_false"]
    assert plan["queue"] is None  # never run: no stored job yet
    assert not (hr.home / "headrace.db").exists(), "plan created a store"
    assert not (hr.home / "envs").exists(), "plan built an environment"


def test_parameters_change_the_plan_and_unknown_ones_are_refused(hr: Headrace) -> None:
    job = hr.write("job.yml", JOB)
    plan = hr("plan", job, "-p", "day=2026-02-02", "--json").json()
    assert _task(plan, "c")["outcome"] == "false"
    assert {e["task_key"] for e in plan["may_be_excluded"] if e["certain"]} == {"on_true"}
    bad = hr("plan", job, "-p", "nope=1")
    assert bad.returncode == 2, str(bad)
    assert "nope" in bad.stderr and "Traceback" not in bad.stderr


def test_plan_of_a_stored_job_shows_the_queue_and_leaves_the_store_unchanged(
    hr: Headrace,
) -> None:
    job = hr.write(
        "job.yml", "name: q\ntasks:\n  - task_key: t\n    shell_command_task: {command: 'true'}\n"
    )
    assert hr("run", job, "-q").returncode == 0
    db = hr.home / "headrace.db"
    before = _dump(db)
    text = hr("plan", "q")
    assert text.returncode == 0, str(text)
    assert "layer 0: t" in text.stdout and "Queue: RUN" in text.stdout
    plan = hr("plan", job, "--json").json()  # a file whose job `headrace run` stored
    assert plan["job"]["job_id"] is not None
    assert plan["queue"]["admission"] == "RUN" and plan["queue"]["active_runs"] == 0
    named = hr.write(
        "named.yml",
        "name: n\ntasks:\n  - task_key: s\n    existing_cluster_id: nowhere\n"
        "    spark_python_task: {python_file: x.py}\n",
    )
    plan = hr("plan", named, "--json").json()
    [cluster] = plan["clusters"]
    assert cluster["cluster_id"] == "nowhere" and cluster["problem"] == "no such cluster"
    assert _dump(db) == before
    missing = hr("plan", "no-such-job")
    assert missing.returncode != 0 and "no-such-job" in missing.stderr


def test_api_plan_of_a_stored_job_and_of_unsaved_settings(server: Server) -> None:
    token = server.token("planner")
    api = httpx.Client(
        base_url=f"{server.url}/api/2.2", headers={"Authorization": f"Bearer {token}"}
    )
    with api:
        settings = {
            "name": "api-plan",
            "max_concurrent_runs": 0,
            "queue": {"enabled": False},
            "tasks": [
                {"task_key": "a", "shell_command_task": {"command": "true"}},
                {
                    "task_key": "b",
                    "depends_on": [{"task_key": "a"}],
                    "shell_command_task": {"command": "echo {{job.id}}"},
                },
            ],
        }
        job_id = api.post("/jobs/create", json=settings).json()["job_id"]
        plan = api.post("/jobs/plan", json={"job_id": job_id}).json()
        assert plan["layers"] == [["a"], ["b"]]
        assert _task(plan, "b")["settings"]["command"] == f"echo {job_id}"
        assert plan["queue"]["admission"] == "SKIP"  # max_concurrent_runs 0, no queue
        unsaved = api.post("/jobs/plan", json={"settings": settings}).json()
        assert unsaved["job"]["job_id"] is None and unsaved["queue"] is None
        runs = api.get("/jobs/runs/list", params={"job_id": job_id}).json()
        assert not runs.get("runs"), runs  # planning started nothing
        for body, field in (({}, "job_id"), ({"job_id": job_id, "x": 1}, "x")):
            bad = api.post("/jobs/plan", json=body)
            assert bad.status_code == 400, bad.text
            assert field in bad.json()["message"]
        other = httpx.post(
            f"{server.url}/api/2.2/jobs/plan",
            json={"job_id": job_id},
            headers={"Authorization": f"Bearer {server.token('stranger')}"},
        )
        assert other.status_code == 403, other.text
