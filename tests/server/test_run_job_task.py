"""run_job_task and run-now's legacy parameters, through the SDK."""

from __future__ import annotations

from pathlib import Path

import pytest
from databricks.sdk.errors import InvalidParameterValue
from databricks.sdk.service import jobs

from support import User, shell

from .helpers import python, raw_run, result, task_of, write

SUCCESS = jobs.RunResultState.SUCCESS
FAILED = jobs.RunResultState.FAILED


def test_run_job_task_runs_the_other_job_and_takes_its_result(alice: User) -> None:
    w = alice.w
    child = w.jobs.create(
        name="rjt-child",
        parameters=[jobs.JobParameterDefinition(name="day", default="none")],
        tasks=[shell("work", "echo child got {{job.parameters.day}}")],
    ).job_id
    parent = w.jobs.create(
        name="rjt-parent",
        tasks=[
            jobs.Task(
                task_key="call",
                run_job_task=jobs.RunJobTask(job_id=child, job_parameters={"day": "2026-11-22"}),
            )
        ],
    ).job_id
    run = result(w, w.jobs.run_now(parent))
    assert run.state.result_state == SUCCESS
    call = task_of(run, "call")
    output = w.jobs.get_run_output(call.run_id)
    child_run_id = output.run_job_output.run_id
    child_run = w.jobs.get_run(child_run_id)
    assert child_run.job_id == child
    assert child_run.trigger == jobs.TriggerType.RUN_JOB_TASK
    assert raw_run(w, child_run_id)["trigger_info"]["run_id"] == call.run_id
    logs = w.jobs.get_run_output(child_run.tasks[0].run_id).logs
    assert "child got 2026-11-22" in logs


def test_a_failing_child_fails_the_task(alice: User) -> None:
    w = alice.w
    child = w.jobs.create(
        name="rjt-bad-child", tasks=[shell("work", "echo nope >&2; exit 3")]
    ).job_id
    parent = w.jobs.create(
        name="rjt-bad-parent",
        tasks=[jobs.Task(task_key="call", run_job_task=jobs.RunJobTask(job_id=child))],
    ).job_id
    run = result(w, w.jobs.run_now(parent))
    assert run.state.result_state == FAILED
    assert "nope" in task_of(run, "call").state.state_message


def test_python_params_replace_the_task_parameters(alice: User, files: Path) -> None:
    w = alice.w
    script = write(files / "argv.py", "import sys; print('argv', sys.argv[1:])")
    job_id = w.jobs.create(name="legacy", tasks=[python("py", script, "default")]).job_id
    run = result(w, w.jobs.run_now(job_id, python_params=["a", "b"]))
    assert run.state.result_state == SUCCESS
    assert "argv ['a', 'b']" in w.jobs.get_run_output(run.tasks[0].run_id).logs


def test_run_now_refuses_unknown_fields(alice: User) -> None:
    w = alice.w
    job_id = w.jobs.create(name="strict", tasks=[shell("a", "true")]).job_id
    with pytest.raises(InvalidParameterValue, match="colour: unknown field"):
        w.api_client.do("POST", "/api/2.2/jobs/run-now", body={"job_id": job_id, "colour": "red"})
