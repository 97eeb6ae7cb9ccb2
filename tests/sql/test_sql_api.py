"""sql_task through the Jobs API and the official SDK: get-output's `sql_output`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from databricks.sdk.errors import InvalidParameterValue
from databricks.sdk.service import jobs

from support import Server, User, settle


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("sql-server"), workers=2)
    try:
        srv.start()
        yield srv
    finally:
        srv.close()


@pytest.fixture(scope="module")
def alice(server: Server) -> User:
    return server.user("alice")


def test_get_output_returns_the_sql_output(alice: User, tmp_path: Path) -> None:
    w = alice.w
    query = tmp_path / "daily.sql"
    query.write_text(
        "CREATE OR REPLACE TABLE daily AS SELECT range AS n FROM range(5);\n"
        "SELECT n, n * n AS square FROM daily WHERE n >= :low ORDER BY n;\n"
    )
    job_id = w.jobs.create(
        name="sql-api",
        parameters=[jobs.JobParameterDefinition(name="low", default="3")],
        tasks=[
            jobs.Task(
                task_key="daily",
                sql_task=jobs.SqlTask(
                    warehouse_id="default", file=jobs.SqlTaskFile(path=str(query))
                ),
            )
        ],
    ).job_id
    waiter = w.jobs.run_now(job_id)
    settle(w, waiter.run_id, 60)
    run = w.jobs.get_run(waiter.run_id)
    assert run.state is not None and run.state.result_state == jobs.RunResultState.SUCCESS
    assert run.tasks is not None
    output = w.jobs.get_run_output(run.tasks[0].run_id)
    assert output.sql_output is not None and output.sql_output.query_output is not None
    query_output = output.sql_output.query_output
    assert query_output.warehouse_id == "default"
    assert query_output.query_text == query.read_text()
    assert [s.lookup_key for s in query_output.sql_statements or []] == ["0", "1"]
    raw = w.api_client.do(
        "GET", "/api/2.2/jobs/runs/get-output", query={"run_id": run.tasks[0].run_id}
    )
    result = raw["sql_output"]["query_output"]["result"]
    assert result["columns"] == ["n", "square"]
    assert result["rows"] == [[3, 9], [4, 16]]
    assert "square" in (output.logs or "")


def test_saved_queries_are_refused_with_the_field_path(alice: User) -> None:
    with pytest.raises(InvalidParameterValue) as caught:
        alice.w.jobs.create(
            name="sql-saved",
            tasks=[
                jobs.Task(
                    task_key="saved",
                    sql_task=jobs.SqlTask(
                        warehouse_id="abc", query=jobs.SqlTaskQuery(query_id="123")
                    ),
                )
            ],
        )
    assert "tasks[0].sql_task.query.query_id: saved queries are not supported" in str(caught.value)


def test_a_sql_file_uploaded_to_the_workspace_runs(alice: User) -> None:
    w = alice.w
    w.workspace.upload(
        "/Workspace/Users/alice/sql/count.sql",
        b"SELECT count(*) AS n FROM range(CAST(:upto AS INT));\n",
        overwrite=True,
    )
    job_id = w.jobs.create(
        name="sql-workspace",
        tasks=[
            jobs.Task(
                task_key="count",
                sql_task=jobs.SqlTask(
                    warehouse_id="default",
                    file=jobs.SqlTaskFile(
                        path="/Workspace/Users/alice/sql/count.sql", source=jobs.Source.WORKSPACE
                    ),
                    parameters={"upto": "12"},
                ),
            )
        ],
    ).job_id
    run = settle(w, w.jobs.run_now(job_id).run_id, 60)
    assert run.state is not None and run.state.result_state == jobs.RunResultState.SUCCESS
    assert run.tasks is not None
    raw = w.api_client.do(
        "GET", "/api/2.2/jobs/runs/get-output", query={"run_id": run.tasks[0].run_id}
    )
    assert raw["sql_output"]["query_output"]["result"]["rows"] == [[12]]
