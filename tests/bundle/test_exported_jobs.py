"""A job exported from Databricks (`jobs/get` output) loads: read-only and legacy fields are
named in warnings and left out; `headrace validate` stays strict about everything else."""

from __future__ import annotations

import json

from support import Headrace, hr

__all__ = ["hr"]

EXPORT = {
    "job_id": 1234,
    "creator_user_name": "someone@example.com",
    "run_as_user_name": "someone@example.com",
    "run_as_owner": True,
    "created_time": 1700000000000,
    "settings": {
        "name": "exported",
        "format": "MULTI_TASK",
        "max_retries": 2,
        "timeout_seconds": 0,
        "tasks": [{"task_key": "a", "shell_command_task": {"command": "echo exported"}}],
    },
}


def test_a_jobs_get_export_validates_and_runs_with_warnings(hr: Headrace) -> None:
    path = hr.write("job.json", json.dumps(EXPORT))
    valid = hr("validate", path)
    assert valid.returncode == 0, str(valid)
    assert "run_as_owner: read-only field of jobs/get; ignored" in valid.stderr
    assert "settings.max_retries: job-level field of the single-task format" in valid.stderr
    _, run = hr.run_json(path, expect=0)
    assert run["state"]["result_state"] == "SUCCESS"


def test_other_unknown_fields_stay_errors(hr: Headrace) -> None:
    bad = {**EXPORT, "settings": {**EXPORT["settings"], "colour": "blue"}}
    path = hr.write("job.json", json.dumps(bad))
    result = hr("validate", path)
    assert result.returncode == 2
    assert "unknown field 'colour'" in result.stderr
