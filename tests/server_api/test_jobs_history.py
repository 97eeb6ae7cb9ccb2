"""`headrace jobs history | list` over a store the API wrote (versions on create/update/reset)."""

from __future__ import annotations

import json

from databricks.sdk.service import jobs

from support import Server, User, shell


def _job_with_three_versions(alice: User) -> int:
    w = alice.w
    job_id = w.jobs.create(name="hist-etl", tasks=[shell("extract", "echo e")]).job_id
    w.jobs.update(job_id, new_settings=jobs.JobSettings(max_concurrent_runs=4))
    w.jobs.update(
        job_id,
        new_settings=jobs.JobSettings(
            tasks=[shell("load", "echo l", depends_on=[jobs.TaskDependency(task_key="extract")])]
        ),
    )
    return job_id


def test_history_lists_every_version(server: Server, alice: User) -> None:
    job_id = _job_with_three_versions(alice)

    done = server.cli("jobs", "history", str(job_id))

    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stdout.splitlines() if "alice" in line]
    assert len(lines) == 3, done.stdout
    assert "hist-etl, 1 task" in lines[0] and "created" in lines[0]
    assert "max_concurrent_runs" in lines[1] and "1 task" in lines[1]
    assert "hist-etl, 2 tasks" in lines[2] and "tasks" in lines[2]
    assert [line.split()[1] for line in lines] == ["1", "2", "3"]


def test_history_json(server: Server, alice: User) -> None:
    job_id = _job_with_three_versions(alice)

    done = server.cli("jobs", "history", str(job_id), "--json")

    assert done.returncode == 0, done.stderr
    versions = json.loads(done.stdout)["versions"]
    assert [v["version"] for v in versions] == [1, 2, 3]
    assert {v["created_by"] for v in versions} == {"alice"}
    assert versions[1]["settings"]["max_concurrent_runs"] == 4
    assert [t["task_key"] for t in versions[2]["settings"]["tasks"]] == ["extract", "load"]


def test_diff_of_two_versions_is_a_unified_yaml_diff(server: Server, alice: User) -> None:
    job_id = _job_with_three_versions(alice)

    done = server.cli("jobs", "history", str(job_id), "--diff", "1", "3")

    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.startswith(f"--- job {job_id} version 1\n+++ job {job_id} version 3\n"), out
    assert "@@" in out
    assert "-max_concurrent_runs: 1\n+max_concurrent_runs: 4\n" in out
    assert "+- task_key: load\n" in out
    assert "+  - task_key: extract\n" in out  # load's depends_on, as YAML
    assert "\n   shell_command_task:\n" in out  # context: unchanged settings
    same = server.cli("jobs", "history", str(job_id), "--diff", "2", "2")
    assert same.returncode == 0 and same.stdout == ""


def test_history_errors(server: Server, alice: User) -> None:
    job_id = _job_with_three_versions(alice)

    missing_version = server.cli("jobs", "history", str(job_id), "--diff", "1", "9")
    assert missing_version.returncode == 3
    assert "has no version 9 (it has versions 1-3)" in missing_version.stderr
    missing_job = server.cli("jobs", "history", "987654")
    assert missing_job.returncode == 3
    assert "987654" in missing_job.stderr


def test_jobs_list(server: Server, alice: User) -> None:
    job_id = _job_with_three_versions(alice)

    done = server.cli("jobs", "list", "--json")
    assert done.returncode == 0, done.stderr
    row = next(j for j in json.loads(done.stdout)["jobs"] if j["job_id"] == job_id)
    assert (row["name"], row["creator_user_name"], row["latest_version"]) == (
        "hist-etl",
        "alice",
        3,
    )

    table = server.cli("jobs", "list")
    assert table.returncode == 0, table.stderr
    line = next(line for line in table.stdout.splitlines() if f" {job_id} " in line)
    assert "hist-etl" in line and "alice" in line and " 3 " in line
