"""The pure parts of Spark compute: which cluster a task names, sizing, the server's command,
Spark's one-line errors (start failures and task failures), named cluster specs."""

from __future__ import annotations

import pytest

from headrace.compute.clusters import check_spec
from headrace.compute.server import local_cores, server_argv, spark_error
from headrace.errors import PermissionDenied, SpecError
from headrace.runtime.spark import one_line_error
from headrace.spec.compute import cluster_id_of, job_cluster_id, task_compute
from headrace.spec.models import JobSettings

SETTINGS = JobSettings.model_validate(
    {
        "name": "j",
        "job_clusters": [{"job_cluster_key": "etl", "new_cluster": {"num_workers": 3}}],
        "tasks": [
            {"task_key": "a", "job_cluster_key": "etl", "notebook_task": {"notebook_path": "x"}},
            {
                "task_key": "b",
                "existing_cluster_id": "0101-x",
                "notebook_task": {"notebook_path": "x"},
            },
            {
                "task_key": "c",
                "new_cluster": {"num_workers": 1},
                "notebook_task": {"notebook_path": "x"},
            },
            {"task_key": "d", "notebook_task": {"notebook_path": "x"}},
        ],
    }
)


def test_the_compute_each_task_names() -> None:
    a, b, c, d = SETTINGS.tasks
    assert task_compute(SETTINGS, a) == {"kind": "job", "key": "etl", "spec": {"num_workers": 3}}
    assert task_compute(SETTINGS, b) == {"kind": "named", "cluster_id": "0101-x"}
    assert task_compute(SETTINGS, c) == {"kind": "job", "key": "task-c", "spec": {"num_workers": 1}}
    assert task_compute(SETTINGS, d) is None
    assert cluster_id_of(7, a.model_dump()) == job_cluster_id(7, "etl") == "run-7-etl"
    assert cluster_id_of(7, c.model_dump()) == "run-7-task-c"
    assert cluster_id_of(7, d.model_dump()) is None


@pytest.mark.parametrize(
    ("spec", "cores"),
    [
        ({}, 1),
        ({"num_workers": 0}, 1),
        ({"num_workers": 1}, 1),
        ({"autoscale": {"max_workers": 1}}, 1),
        ({"num_workers": "x"}, 1),
        ({"num_workers": 10**6}, None),
    ],
)
def test_local_cores_follow_workers_within_the_machine(spec: dict, cores: int | None) -> None:
    import os

    assert local_cores(spec) == (cores if cores is not None else os.cpu_count())


def test_the_server_command_is_spark_submit_of_the_connect_server() -> None:
    argv = server_argv(
        {"spark_home": "/s", "cluster_id": "c1", "master": "local[2]", "conf": {"a.b": "1"}}
    )
    assert argv[0] == "/s/bin/spark-submit"
    assert "org.apache.spark.sql.connect.service.SparkConnectServer" in argv
    assert argv[argv.index("--master") + 1] == "local[2]"
    assert argv[argv.index("--name") + 1] == "headrace c1"
    assert "a.b=1" in argv


def test_spark_start_errors_are_spark_own_line() -> None:
    jvm = [
        "Invalid maximum heap size: -Xmxlots",
        "Error: Could not create the Java Virtual Machine.",
    ]
    assert spark_error(jvm) == "Invalid maximum heap size: -Xmxlots"
    spark = [
        "WARNING: Using incubator modules: jdk.incubator.vector",
        "26/12/04 21:03:41 ERROR SparkContext: Error initializing SparkContext.",
        'Exception in thread "main" org.apache.spark.SparkException: A master URL must be set',
        "\tat org.apache.spark.SparkContext.<init>(SparkContext.scala:1)",
    ]
    assert spark_error(spark) == "SparkException: A master URL must be set"
    assert spark_error([]) is None


def test_a_failed_spark_call_is_one_line() -> None:
    analysis = type(
        "AnalysisException", (Exception,), {"__module__": "pyspark.errors.exceptions.connect"}
    )
    exc = analysis(
        "[TABLE_OR_VIEW_NOT_FOUND] The table or view `t` cannot be found.\n"
        "To tolerate the error... SQLSTATE: 42P01; line 1 pos 14;\n'Project [*]\n"
        "JVM stacktrace:\norg.apache.spark.sql.AnalysisException\n\tat x"
    )
    line = one_line_error(exc)
    assert line is not None and line.startswith("AnalysisException: [TABLE_OR_VIEW_NOT_FOUND]")
    assert "SQLSTATE: 42P01" in line and "\n" not in line and "JVM" not in line
    assert one_line_error(ValueError("not Spark")) is None


def test_named_cluster_specs_keep_cloud_values_and_name_bad_fields() -> None:
    spec = check_spec({"cluster_name": "c", "spark_version": "99.x", "node_type_id": "z9", "x": 1})
    assert spec == {"cluster_name": "c", "spark_version": "99.x", "node_type_id": "z9"}
    with pytest.raises(SpecError, match="cluster_name"):
        check_spec({})
    with pytest.raises(SpecError, match="spark_conf"):
        check_spec({"cluster_name": "c", "spark_conf": ["a=b"]})
    with pytest.raises(SpecError, match="num_workers"):
        check_spec({"cluster_name": "c", "num_workers": -1})


def test_only_an_admin_may_make_a_named_cluster_listen_beyond_loopback() -> None:
    for spec in (
        {"cluster_name": "c", "spark_bind_host": "0.0.0.0"},
        {"cluster_name": "c", "spark_bind_host": "db.example"},
        {"cluster_name": "c", "spark_conf": {"spark.driver.bindAddress": "10.0.0.5"}},
    ):
        with pytest.raises(PermissionDenied, match="only an admin"):
            check_spec(spec, may_expose=False)
        assert check_spec(spec, may_expose=True)["cluster_name"] == "c"
    kept = {"cluster_name": "c", "spark_bind_host": "127.0.0.2"}  # another loopback address
    assert check_spec(kept, may_expose=False)["spark_bind_host"] == "127.0.0.2"


def test_services_started_from_a_task_do_not_carry_its_identity(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Recovery kills a lost attempt's processes by these entries: a shared metastore or warm
    # server that a task happened to start must not look like part of that task.
    from headrace.compute.server import service_env

    for name in ("HEADRACE_TASK_RUN_ID", "HEADRACE_WORKER_ID", "HEADRACE_RUN_ID", "SPARK_REMOTE"):
        monkeypatch.setenv(name, "1001")
    monkeypatch.setenv("JAVA_HOME", "/usr/lib/jvm/x")
    env = service_env()
    assert not {"HEADRACE_TASK_RUN_ID", "HEADRACE_WORKER_ID", "HEADRACE_RUN_ID"} & env.keys()
    assert "SPARK_REMOTE" not in env
    assert env["JAVA_HOME"] == "/usr/lib/jvm/x"
