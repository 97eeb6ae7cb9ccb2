"""dbt_task through the Jobs API with the official SDK against a real `headrace server`."""

from __future__ import annotations

from pathlib import Path

from databricks.sdk.service import jobs

from support import Server, settle

from .conftest import THREE_MODELS, make_project


def _run(server: Server, project: Path, commands: list[str]) -> tuple[jobs.Run, jobs.RunOutput]:
    w = server.user("alice").w
    job_id = w.jobs.create(
        name=f"dbt-{project.name}",
        tasks=[
            jobs.Task(
                task_key="dbt",
                dbt_task=jobs.DbtTask(commands=commands, project_directory=str(project)),
            )
        ],
    ).job_id
    run_id = w.jobs.run_now(job_id).run_id
    settle(w, run_id, 900)
    run = w.jobs.get_run(run_id)
    assert run.tasks is not None
    return run, w.jobs.get_run_output(run.tasks[0].run_id)


def test_get_output_lists_the_dbt_artifacts(dbt_server: Server, tmp_path: Path) -> None:
    project = make_project(tmp_path / "api_ok", THREE_MODELS)
    run, output = _run(dbt_server, project, ["dbt run"])
    assert run.state is not None and run.state.result_state == jobs.RunResultState.SUCCESS
    assert output.dbt_output is not None and output.dbt_output.artifacts_link is not None
    target = Path(output.dbt_output.artifacts_link.removeprefix("file://"))
    assert (target / "manifest.json").is_file()
    assert "PASS=3" in (output.logs or "")


def test_a_model_error_is_the_run_error(dbt_server: Server, tmp_path: Path) -> None:
    project = make_project(tmp_path / "api_bad", {"bad.sql": "select * from no_such_table"})
    run, output = _run(dbt_server, project, ["dbt run"])
    assert run.state is not None and run.state.result_state == jobs.RunResultState.FAILED
    assert output.error is not None
    assert "'dbt run' failed: model bad:" in output.error
    assert "no_such_table" in output.error
