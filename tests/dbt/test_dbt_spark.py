"""dbt_task on a Spark warehouse: dbt-spark's session method over Spark Connect, on the warm
server's shared catalog; a sql_task on the same warehouse reads what dbt built."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from support import Headrace

from .conftest import THREE_MODELS, make_project

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def spark_dbt_hr(tmp_path_factory: pytest.TempPathFactory, dbt_envs: Path) -> Iterator[Headrace]:
    from spark.compute_support import spark_cli

    for cli in spark_cli(tmp_path_factory.mktemp("dbt-spark")):
        (cli.home / "envs").symlink_to(dbt_envs, target_is_directory=True)
        cli.env["HEADRACE_WAREHOUSE_SPARK_URL"] = "spark://"
        yield cli


def test_dbt_run_on_the_spark_warehouse(spark_dbt_hr: Headrace) -> None:
    hr = spark_dbt_hr
    project = make_project(hr.dir / "shop", THREE_MODELS)
    hr.write("read.sql", "select customers, orders from dbtspark.summary\n")
    job = hr.write(
        "job.yml",
        f"""
        name: dbt-spark
        tasks:
          - task_key: transform
            dbt_task:
              project_directory: {project}
              warehouse_id: spark
              schema: dbtspark
              catalog: main
              commands: ["dbt run"]
          - task_key: read
            depends_on: [{{task_key: transform}}]
            sql_task: {{warehouse_id: spark, file: {{path: read.sql}}}}
        """,
    )
    result = hr("run", job, "--json", timeout=1500)
    assert result.returncode == 0, str(result)
    run = result.json()
    logs = hr.home / "logs" / str(run["run_id"])
    transform = next(logs.glob("transform/*/output.log")).read_text()
    assert "dbt-spark" in transform and "OK created sql table model dbtspark.summary" in transform
    assert "catalog is ignored on Spark" in transform
    read = next(logs.glob("read/*/output.log")).read_text()
    assert "3         | 10" in read, read
