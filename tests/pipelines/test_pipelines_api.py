"""The Pipelines API subset and the JVM task types through the official SDK against a real
`headrace server` (real Spark: marked `spark`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from databricks.sdk.service import compute, jobs
from databricks.sdk.service import pipelines as pl

from spark_tasks.jar_support import build_jar
from support import Server, settle, wait_for

pytestmark = pytest.mark.spark
TIMEOUT = 900


def test_pipelines_api_and_pipeline_task(spark_server: Server, sources: Path) -> None:
    w = spark_server.user("alice").w
    created = w.pipelines.create(
        name="api-good",
        catalog="main",
        schema="api",
        libraries=[pl.PipelineLibrary(glob=pl.PathPattern(include=f"{sources}/good/**"))],
    )
    pid = created.pipeline_id
    assert pid is not None
    assert any(p.pipeline_id == pid for p in w.pipelines.list_pipelines())
    update_id = w.pipelines.start_update(pid, full_refresh=True).update_id
    assert update_id is not None

    def finished() -> pl.UpdateInfo | None:
        update = w.pipelines.get_update(pid, update_id).update
        assert update is not None
        return (
            update
            if update.state in (pl.UpdateInfoState.COMPLETED, pl.UpdateInfoState.FAILED)
            else None
        )

    update = wait_for(finished, TIMEOUT, "the pipeline update")
    assert update.state == pl.UpdateInfoState.COMPLETED
    assert update.full_refresh is True
    assert [u.update_id for u in w.pipelines.list_updates(pid).updates or []] == [update_id]
    got = w.pipelines.get(pid)
    assert (
        got.name == "api-good"
        and got.latest_updates
        and got.latest_updates[0].update_id == update_id
    )

    cycle = w.pipelines.create(
        name="api-cycle",
        libraries=[pl.PipelineLibrary(glob=pl.PathPattern(include=f"{sources}/cycle/**"))],
    ).pipeline_id
    job_id = w.jobs.create(
        name="pipeline-task",
        tasks=[
            jobs.Task(task_key="good", pipeline_task=jobs.PipelineTask(pipeline_id=pid)),
            jobs.Task(
                task_key="cycle",
                depends_on=[jobs.TaskDependency(task_key="good")],
                pipeline_task=jobs.PipelineTask(pipeline_id=cycle, full_refresh=True),
            ),
        ],
    ).job_id
    run_id = w.jobs.run_now(job_id).run_id
    settle(w, run_id, TIMEOUT)
    run = w.jobs.get_run(run_id)
    states = {t.task_key: t.state.result_state for t in run.tasks or [] if t.state}
    assert states == {"good": jobs.RunResultState.SUCCESS, "cycle": jobs.RunResultState.FAILED}
    failed = next(t for t in run.tasks or [] if t.task_key == "cycle")
    output = w.jobs.get_run_output(failed.run_id)
    assert "Circular dependencies are not supported in a pipeline" in (output.error or "")

    w.pipelines.delete(cycle)
    assert all(p.pipeline_id != cycle for p in w.pipelines.list_pipelines())


def test_spark_jar_task_through_the_jobs_api(spark_server: Server, tmp_path: Path) -> None:
    w = spark_server.user("alice").w
    jar = build_jar(tmp_path)
    run = w.jobs.submit(
        run_name="jar",
        tasks=[
            jobs.SubmitTask(
                task_key="jar",
                spark_jar_task=jobs.SparkJarTask(main_class_name="demo.Hello", parameters=["api"]),
                libraries=[compute.Library(jar=str(jar))],
            ),
            jobs.SubmitTask(
                task_key="nope",
                spark_jar_task=jobs.SparkJarTask(main_class_name="demo.Nope"),
                libraries=[compute.Library(jar=str(jar))],
            ),
        ],
    ).response
    settle(w, run.run_id, TIMEOUT)
    got = w.jobs.get_run(run.run_id)
    by_key = {t.task_key: t for t in got.tasks or []}
    ok = w.jobs.get_run_output(by_key["jar"].run_id)
    assert "hello from the jar api count=5" in (ok.logs or "")
    bad = w.jobs.get_run_output(by_key["nope"].run_id)
    assert "Failed to load class demo.Nope" in (bad.error or "")
