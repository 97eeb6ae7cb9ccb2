"""run-now, runs/submit, get-output, cancel, repair, runs/list and idempotency via the SDK."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from databricks.sdk.errors import InvalidParameterValue, InvalidState, ResourceDoesNotExist
from databricks.sdk.service import jobs

from support import User, pid_alive, read_pid, settle, shell, wait_for

from .helpers import python, raw_run, result, task_of, wait_task_running, write

SUCCESS = jobs.RunResultState.SUCCESS
FAILED = jobs.RunResultState.FAILED
TERMINATED = jobs.RunLifeCycleState.TERMINATED


def test_run_now_with_job_parameters_runs_python_and_shell_tasks(alice: User, files: Path) -> None:
    w = alice.w
    argv_file = files / "argv.json"
    script = write(
        files / "write_argv.py",
        """
        import json, pathlib, sys
        pathlib.Path(sys.argv[1]).write_text(json.dumps(sys.argv[2:]))
        print("python saw", sys.argv[2:])
        """,
    )
    shell_out = files / "shell.txt"
    job_id = w.jobs.create(
        name="runs-params",
        parameters=[
            jobs.JobParameterDefinition(name="greeting", default="hello"),
            jobs.JobParameterDefinition(name="who", default="world"),
        ],
        tasks=[
            python(
                "py",
                script,
                str(argv_file),
                "{{job.parameters.greeting}}",
                "{{job.parameters.who}}",
                "{{job.id}}",
            ),
            shell(
                "sh",
                f'echo "shell {{{{job.parameters.greeting}}}} $((6 * 7))" > {shell_out}',
                depends_on=[jobs.TaskDependency(task_key="py")],
            ),
        ],
    ).job_id

    # The plain SDK waiter, end to end, once.
    run = w.jobs.run_now(job_id, job_parameters={"greeting": "bonjour"}).result()

    assert run.state.life_cycle_state == TERMINATED
    assert run.state.result_state == SUCCESS, run.state
    assert run.job_id == job_id
    assert run.run_type == jobs.RunType.JOB_RUN
    assert run.trigger == jobs.TriggerType.ONE_TIME
    assert {p.name: p.value for p in run.job_parameters} == {"greeting": "bonjour", "who": "world"}
    assert [t.state.result_state for t in run.tasks] == [SUCCESS, SUCCESS]
    assert json.loads(argv_file.read_text()) == ["bonjour", "world", str(job_id)]
    assert shell_out.read_text() == "shell bonjour 42\n"
    py = task_of(run, "py")
    assert py.run_id not in (None, run.run_id)
    out = w.jobs.get_run_output(py.run_id)
    assert "python saw ['bonjour', 'world'" in out.logs
    assert out.metadata.state.result_state == SUCCESS
    assert not out.error
    # The job run itself has several tasks: Databricks refuses its output.
    with pytest.raises(InvalidParameterValue, match="multiple tasks"):
        w.jobs.get_run_output(run.run_id)


def test_run_now_of_an_unknown_parameter_is_refused(alice: User) -> None:
    w = alice.w
    job_id = w.jobs.create(
        name="runs-bad-param",
        parameters=[jobs.JobParameterDefinition(name="p", default="d")],
        tasks=[shell("a", "true")],
    ).job_id
    with pytest.raises(InvalidParameterValue, match="nope"):
        w.jobs.run_now(job_id, job_parameters={"nope": "1"})


def test_submit_one_time_run(alice: User, files: Path) -> None:
    w = alice.w
    script = write(files / "hello.py", "print('one time')\n")
    waiter = w.jobs.submit(
        run_name="runs-oneoff",
        tasks=[
            jobs.SubmitTask(
                task_key="hello", spark_python_task=jobs.SparkPythonTask(python_file=str(script))
            )
        ],
    )
    run = result(w, waiter)
    assert run.run_id == waiter.run_id
    assert run.state.result_state == SUCCESS
    assert run.run_type == jobs.RunType.SUBMIT_RUN
    assert run.run_name == "runs-oneoff"
    out = w.jobs.get_run_output(task_of(run, "hello").run_id)
    assert out.logs.strip() == "one time"
    # Submitted runs are listed by type.
    submitted = w.jobs.list_runs(run_type=jobs.RunType.SUBMIT_RUN, limit=25)
    assert run.run_id in {r.run_id for r in submitted}


def test_get_run_output_of_a_failing_python_task(alice: User, files: Path) -> None:
    w = alice.w
    script = write(
        files / "boom.py",
        """
        print("before the failure")
        def explode():
            raise ValueError("the answer was not 42")
        explode()
        """,
    )
    job_id = w.jobs.create(name="runs-fail", tasks=[python("boom", script)]).job_id
    run = result(w, w.jobs.run_now(job_id))

    assert run.state.life_cycle_state == TERMINATED
    assert run.state.result_state == FAILED
    boom = task_of(run, "boom")
    assert boom.state.result_state == FAILED
    out = w.jobs.get_run_output(boom.run_id)
    assert "before the failure" in out.logs
    assert "ValueError" in out.error and "the answer was not 42" in out.error
    assert "Traceback" in out.error_trace
    assert "explode" in out.error_trace


def test_cancel_run_stops_the_task_process(alice: User, files: Path) -> None:
    w = alice.w
    pid_file = files / "task.pid"
    script = write(
        files / "long.py",
        f"""
        import os, pathlib, time
        pathlib.Path({str(pid_file)!r}).write_text(str(os.getpid()))
        time.sleep(60)
        """,
    )
    job_id = w.jobs.create(
        name="runs-cancel",
        tasks=[
            python("long", script),
            shell("after", "echo never", depends_on=[jobs.TaskDependency(task_key="long")]),
        ],
    ).job_id
    run_id = w.jobs.run_now(job_id).run_id
    pid = read_pid(pid_file)
    wait_task_running(w, run_id, "long")

    run = result(w, w.jobs.cancel_run(run_id))

    assert run.state.life_cycle_state == TERMINATED
    assert run.state.result_state == jobs.RunResultState.CANCELED
    assert run.state.user_cancelled_or_timedout is True
    assert task_of(run, "long").state.result_state == jobs.RunResultState.CANCELED
    assert task_of(run, "after").state.result_state == jobs.RunResultState.UPSTREAM_CANCELED
    wait_for(lambda: not pid_alive(pid), 5, f"task process {pid} to be gone")
    # Cancelling an ended run is a no-op.
    w.jobs.cancel_run(run_id)
    assert w.jobs.get_run(run_id).state.result_state == jobs.RunResultState.CANCELED


def test_repair_a_failed_run_until_it_succeeds(alice: User, files: Path) -> None:
    w = alice.w
    flag = files / "fixed"
    counter = files / "downstream-runs"
    job_id = w.jobs.create(
        name="runs-repair",
        tasks=[
            shell("ok", "echo fine"),
            shell("flaky", f"test -f {flag} || {{ echo 'not fixed yet' >&2; exit 3; }}"),
            shell(
                "after",
                f"echo x >> {counter}",
                depends_on=[
                    jobs.TaskDependency(task_key="ok"),
                    jobs.TaskDependency(task_key="flaky"),
                ],
            ),
        ],
    ).job_id
    run = result(w, w.jobs.run_now(job_id))
    assert run.state.result_state == FAILED
    assert task_of(run, "flaky").state.result_state == FAILED
    assert task_of(run, "after").state.result_state == jobs.RunResultState.UPSTREAM_FAILED
    first_ok = task_of(run, "ok").run_id
    first_flaky = task_of(run, "flaky").run_id

    # Repair 1: still broken.
    waiter = w.jobs.repair_run(run.run_id, rerun_all_failed_tasks=True)
    repair_1 = waiter.response.repair_id
    assert isinstance(repair_1, int)
    # The run must leave TERMINATED at once, or the SDK waiter returns the old state.
    now = w.jobs.get_run(run.run_id, include_history=True)
    assert now.state.life_cycle_state != TERMINATED or now.repair_history[-1].id == repair_1
    run = result(w, waiter)
    assert run.state.result_state == FAILED
    assert task_of(run, "ok").run_id == first_ok, "a succeeded task is not rerun"
    assert task_of(run, "flaky").run_id != first_flaky, "a rerun task gets a new task run id"

    # A second repair must name the latest one.
    with pytest.raises(InvalidParameterValue, match="latest repair ID"):
        w.jobs.repair_run(run.run_id, rerun_all_failed_tasks=True)

    flag.touch()
    waiter = w.jobs.repair_run(run.run_id, rerun_all_failed_tasks=True, latest_repair_id=repair_1)
    repair_2 = waiter.response.repair_id
    run = waiter.result()  # the plain SDK waiter: it polls the original run id
    assert run.state.life_cycle_state == TERMINATED
    assert run.state.result_state == SUCCESS, run.state
    assert {t.task_key: t.state.result_state for t in run.tasks} == {
        "ok": SUCCESS,
        "flaky": SUCCESS,
        "after": SUCCESS,
    }
    assert counter.read_text() == "x\n"
    history = w.jobs.get_run(run.run_id, include_history=True).repair_history
    assert [h.type for h in history] == [
        jobs.RepairHistoryItemType.ORIGINAL,
        jobs.RepairHistoryItemType.REPAIR,
        jobs.RepairHistoryItemType.REPAIR,
    ]
    assert [h.id for h in history[1:]] == [repair_1, repair_2]
    assert history[0].state.result_state == FAILED
    assert history[1].state.result_state == FAILED
    assert history[2].state.result_state == SUCCESS


def test_repair_of_an_active_run_is_refused(alice: User, files: Path) -> None:
    w = alice.w
    release = files / "release"
    job_id = w.jobs.create(
        name="runs-repair-active",
        tasks=[shell("wait", f"while [ ! -f {release} ]; do sleep 0.05; done")],
    ).job_id
    run_id = w.jobs.run_now(job_id).run_id
    try:
        with pytest.raises(InvalidState, match="active"):
            w.jobs.repair_run(run_id, rerun_all_failed_tasks=True)
    finally:
        release.touch()
    assert settle(w, run_id).state.result_state == SUCCESS


def test_list_runs_filters_and_pages(alice: User, files: Path) -> None:
    w = alice.w
    release = files / "release"
    job_id = w.jobs.create(
        name="runs-list",
        max_concurrent_runs=5,
        parameters=[jobs.JobParameterDefinition(name="wait", default="no")],
        tasks=[
            shell(
                "t",
                f'[ "{{{{job.parameters.wait}}}}" = no ] || '
                f"while [ ! -f {release} ]; do sleep 0.05; done",
            )
        ],
    ).job_id
    other_job = w.jobs.create(name="runs-list-other", tasks=[shell("t", "true")]).job_id
    other = result(w, w.jobs.run_now(other_job)).run_id
    done_1 = result(w, w.jobs.run_now(job_id)).run_id
    done_2 = result(w, w.jobs.run_now(job_id)).run_id
    active = w.jobs.run_now(job_id, job_parameters={"wait": "yes"}).run_id
    try:
        wait_task_running(w, active, "t")

        every = list(w.jobs.list_runs(job_id=job_id))
        assert [r.run_id for r in every] == [active, done_2, done_1], "newest first"
        assert other not in {r.run_id for r in every}
        assert all(r.tasks == [] for r in every), "tasks only with expand_tasks"

        paged = list(w.jobs.list_runs(job_id=job_id, limit=1))
        assert [r.run_id for r in paged] == [active, done_2, done_1]
        page = w.api_client.do(
            "GET", "/api/2.2/jobs/runs/list", query={"job_id": job_id, "limit": 1}
        )
        assert len(page["runs"]) == 1 and page["has_more"] is True and page["next_page_token"]

        only_active = list(w.jobs.list_runs(job_id=job_id, active_only=True))
        assert [r.run_id for r in only_active] == [active]
        assert only_active[0].state.life_cycle_state == jobs.RunLifeCycleState.RUNNING
        completed = list(w.jobs.list_runs(job_id=job_id, completed_only=True))
        assert [r.run_id for r in completed] == [done_2, done_1]
        assert all(r.state.result_state == SUCCESS for r in completed)

        expanded = list(w.jobs.list_runs(job_id=job_id, completed_only=True, expand_tasks=True))
        assert [[t.task_key for t in r.tasks] for r in expanded] == [["t"], ["t"]]

        with pytest.raises(InvalidParameterValue):
            list(w.jobs.list_runs(job_id=job_id, active_only=True, completed_only=True))
    finally:
        release.touch()
    assert settle(w, active).state.result_state == SUCCESS
    assert list(w.jobs.list_runs(job_id=job_id, active_only=True)) == []


def test_idempotency_token_returns_the_same_run(alice: User) -> None:
    w = alice.w
    job_id = w.jobs.create(name="runs-idempotent", tasks=[shell("t", "true")]).job_id
    first = w.jobs.run_now(job_id, idempotency_token="headrace-idem-1").run_id
    again = w.jobs.run_now(job_id, idempotency_token="headrace-idem-1").run_id
    assert again == first
    other = w.jobs.run_now(job_id, idempotency_token="headrace-idem-2").run_id
    assert other != first
    settle(w, first)
    settle(w, other)
    assert [r.run_id for r in w.jobs.list_runs(job_id=job_id)] == [other, first]
    # Still the same run once it has ended.
    assert w.jobs.run_now(job_id, idempotency_token="headrace-idem-1").run_id == first


def test_retried_attempts_are_in_raw_runs_get(alice: User) -> None:
    """Headrace adds per-attempt details to runs/get; the SDK ignores them, JSON keeps them."""
    w = alice.w
    job_id = w.jobs.create(
        name="runs-attempts",
        tasks=[shell("t", "exit 1", max_retries=1)],
    ).job_id
    run = result(w, w.jobs.run_now(job_id))
    assert run.state.result_state == FAILED
    t = raw_run(w, run.run_id)["tasks"][0]
    assert [a["result_state"] for a in t["attempts"]] == ["FAILED", "FAILED"]
    assert task_of(run, "t").attempt_number == 1


def test_cancel_all_runs_of_a_job(alice: User, files: Path) -> None:
    w = alice.w
    release = files / "release"
    job_id = w.jobs.create(
        name="runs-cancel-all",
        max_concurrent_runs=1,
        tasks=[shell("t", f"while [ ! -f {release} ]; do sleep 0.05; done")],
    ).job_id
    try:
        running = w.jobs.run_now(job_id).run_id
        queued = w.jobs.run_now(job_id).run_id
        wait_task_running(w, running, "t")
        w.jobs.cancel_all_runs(job_id=job_id)
        for run_id in (running, queued):
            run = settle(w, run_id, timeout=10)
            assert run.state.result_state == jobs.RunResultState.CANCELED, run.state
    finally:
        release.touch()
    assert list(w.jobs.list_runs(job_id=job_id, active_only=True)) == []


def test_delete_run(alice: User, files: Path) -> None:
    w = alice.w
    release = files / "release"
    job_id = w.jobs.create(
        name="runs-delete", tasks=[shell("t", f"while [ ! -f {release} ]; do sleep 0.05; done")]
    ).job_id
    run_id = w.jobs.run_now(job_id).run_id
    try:
        with pytest.raises(InvalidState):
            w.jobs.delete_run(run_id)
    finally:
        release.touch()
    settle(w, run_id)
    w.jobs.delete_run(run_id)
    with pytest.raises(ResourceDoesNotExist):
        w.jobs.get_run(run_id)
    assert list(w.jobs.list_runs(job_id=job_id)) == []


def test_get_run_output_returns_what_the_task_reported(alice: User, files: Path) -> None:
    """A task's reported output (runtime.output) reaches get-output; other keys stay inside."""
    w = alice.w
    script = write(
        files / "report.py",
        """
        from headrace.runtime.output import report_output
        report_output(notebook_output={"result": "42", "truncated": False})
        report_output(executed_notebook="/somewhere/private.ipynb")
        """,
    )
    run = result(w, w.jobs.submit(run_name="runs-output", tasks=[python("rep", script)]))
    out = w.jobs.get_run_output(task_of(run, "rep").run_id)
    assert out.notebook_output.result == "42"
    assert out.notebook_output.truncated is False
    raw = w.api_client.do(
        "GET", "/api/2.2/jobs/runs/get-output", query={"run_id": out.metadata.run_id}
    )
    assert "executed_notebook" not in json.dumps(raw)
