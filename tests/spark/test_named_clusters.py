"""Named clusters (existing_cluster_id): `headrace clusters`, a task that starts a stopped one,
and the Clusters API through the official SDK (`ensure_cluster_is_running`, delete, ...)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from databricks.sdk.errors import NotFound
from databricks.sdk.service import compute

from support import HEADRACE, Server, User

from .compute_support import finish, jvms_of, serve, submit, task, write

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from serve(tmp_path_factory.mktemp("spark_named"), workers=2)


@pytest.fixture(scope="module")
def alice(server: Server) -> User:
    return server.user("alice")


def cli(server: Server, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*HEADRACE, *args], env=server.env, capture_output=True, text=True, timeout=120
    )


def test_a_task_starts_a_stopped_named_cluster_and_the_sdk_drives_it(
    alice: User, server: Server, tmp_path: Path
) -> None:
    w = alice.w
    made = cli(
        server,
        "clusters",
        "create",
        "analytics",
        "--no-start",
        "--num-workers",
        "1",
        "--spark-version",
        "99.9.x-unknown",  # cloud values are accepted and shown
        "--node-type-id",
        "m5.24xlarge",
        "--conf",
        "spark.sql.shuffle.partitions=3",
    )
    assert made.returncode == 0, made.stderr
    cluster_id = made.stdout.strip()
    info = w.clusters.get(cluster_id)
    assert info.state == compute.State.TERMINATED
    assert (info.cluster_name, info.spark_version, info.node_type_id) == (
        "analytics",
        "99.9.x-unknown",
        "m5.24xlarge",
    )
    assert cluster_id in [c.cluster_id for c in w.clusters.list()]
    assert any(v.key.startswith("pyspark-") for v in w.clusters.spark_versions().versions)
    assert w.clusters.list_node_types().node_types[0].node_type_id == "local"
    listed = cli(server, "clusters", "list")
    assert cluster_id in listed.stdout and "TERMINATED" in listed.stdout

    script = write(
        tmp_path / "on_named.py",
        """
        from pyspark.sql import SparkSession

        spark = SparkSession.builder.getOrCreate()
        print("partitions", spark.conf.get("spark.sql.shuffle.partitions"))
        """,
    )
    run_id = submit(
        w,
        {
            "run_name": "on a named cluster",
            "tasks": [
                {
                    "task_key": "t",
                    "existing_cluster_id": cluster_id,
                    "spark_python_task": {"python_file": str(script)},
                }
            ],
        },
    )
    run = finish(w, run_id)
    assert run["state"]["result_state"] == "SUCCESS", run
    assert "partitions 3" in Path(task(run, "t")["log_path"]).read_text()
    assert run["clusters"][0]["cluster_id"] == cluster_id
    # A named cluster outlives the run.
    info = w.clusters.get(cluster_id)
    assert info.state == compute.State.RUNNING and len(jvms_of(cluster_id)) == 1
    w.clusters.ensure_cluster_is_running(cluster_id)  # running: nothing to do
    assert len(jvms_of(cluster_id)) == 1

    w.clusters.delete(cluster_id).result()  # terminate: the cluster stays, its JVM ends
    assert w.clusters.get(cluster_id).state == compute.State.TERMINATED
    assert jvms_of(cluster_id) == []
    w.clusters.ensure_cluster_is_running(cluster_id)  # stopped: started again
    assert w.clusters.get(cluster_id).state == compute.State.RUNNING
    assert len(jvms_of(cluster_id)) == 1

    w.clusters.permanent_delete(cluster_id)
    with pytest.raises(NotFound):
        w.clusters.get(cluster_id)
    assert jvms_of(cluster_id) == []


def test_an_unknown_existing_cluster_id_fails_the_task_naming_it(
    alice: User, tmp_path: Path
) -> None:
    script = write(tmp_path / "x.py", "print('never')\n")
    run_id = submit(
        alice.w,
        {
            "run_name": "no such cluster",
            "tasks": [
                {
                    "task_key": "t",
                    "existing_cluster_id": "0000-000000-nosuch",
                    "spark_python_task": {"python_file": str(script)},
                }
            ],
        },
    )
    run = finish(alice.w, run_id)
    error = alice.w.jobs.get_run_output(task(run, "t")["run_id"]).error
    assert "existing_cluster_id '0000-000000-nosuch': no such cluster" in error
