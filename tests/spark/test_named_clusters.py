"""Named clusters (existing_cluster_id): `headrace clusters`, a task that starts a stopped one,
and the Clusters API through the official SDK (`ensure_cluster_is_running`, delete, ...)."""

from __future__ import annotations

import subprocess
import time
from datetime import timedelta
from pathlib import Path

import pytest
from databricks.sdk.errors import NotFound
from databricks.sdk.service import compute

from support import HEADRACE, Server, User, wait_for

from .compute_support import RUN_TIMEOUT, finish, jvms_of, submit, task, write

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def server(spark_server: Server) -> Server:
    return spark_server  # shared by the modules of tests/spark (conftest)


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


def test_an_idle_named_cluster_stops_after_autotermination_minutes(
    alice: User, server: Server
) -> None:
    """autotermination_minutes (here 0.05: 3 s) stops a named cluster nobody uses; a live
    process holding it (a task's lease) keeps it. It listens where `spark_bind_host` says
    (127.0.0.2 here: another loopback address, not the default one) and says so."""
    from pyspark.sql import SparkSession

    w = alice.w
    body = {
        "cluster_name": "short-lived",
        "num_workers": 1,
        "autotermination_minutes": 0.05,
        "spark_bind_host": "127.0.0.2",
    }
    cluster_id = w.api_client.do("POST", "/api/2.1/clusters/create", body=body)["cluster_id"]
    # A live process holding a lease (as a task on the cluster does) keeps it running.
    leases = server.home / "spark" / "clusters" / cluster_id / "leases"
    leases.mkdir(parents=True, exist_ok=True)
    holder = subprocess.Popen(["sleep", "600"])
    (leases / str(holder.pid)).touch()
    try:
        w.clusters.wait_get_cluster_running(cluster_id, timeout=timedelta(seconds=RUN_TIMEOUT))
        info = w.api_client.do("GET", "/api/2.1/clusters/get", query={"cluster_id": cluster_id})
        assert info["autotermination_minutes"] == 0.05
        assert info["spark_remote"].startswith("sc://127.0.0.2:")
        spark = SparkSession.builder.remote(info["spark_remote"]).getOrCreate()
        try:
            assert spark.range(3).count() == 3  # reachable at the bound address
        finally:
            spark.stop()
        time.sleep(8)  # well past the idle time: the holder keeps it
        assert w.clusters.get(cluster_id).state == compute.State.RUNNING

        holder.kill()
        holder.wait()
        wait_for(
            lambda: w.clusters.get(cluster_id).state == compute.State.TERMINATED,
            120,
            "the idle cluster to stop",
        )
        assert "idle for 3 s" in w.clusters.get(cluster_id).state_message
        assert jvms_of(cluster_id) == []
    finally:
        holder.kill()
        holder.wait()
        w.clusters.permanent_delete(cluster_id)


def test_a_bad_autotermination_value_is_refused_naming_the_field(alice: User) -> None:
    with pytest.raises(Exception, match="autotermination_minutes"):
        alice.w.api_client.do(
            "POST",
            "/api/2.1/clusters/create",
            body={"cluster_name": "x", "autotermination_minutes": "soon"},
        )
