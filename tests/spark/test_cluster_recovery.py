"""A job cluster never outlives the process that ran its run: `headrace run` killed with
SIGKILL -> the cluster's keeper stops the JVM, and recovery records the cluster as stopped."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from support import HEADRACE, reap, wait_for

from .compute_support import DRIVER_MEMORY, jvms_of, stop_everything, write

pytestmark = pytest.mark.spark
__all__ = ["reap"]


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    home = tmp_path / "home"
    try:
        yield home
    finally:
        stop_everything(home)


def test_a_killed_headrace_run_leaves_no_cluster_running(
    home: Path, tmp_path: Path, reap: list[int]
) -> None:
    marker = tmp_path / "started"
    write(
        tmp_path / "slow.py",
        f"""
        # Databricks notebook source
        import pathlib, time
        spark.range(2).count()
        pathlib.Path({str(marker)!r}).write_text("yes")
        time.sleep(600)
        """,
    )
    job = write(
        tmp_path / "job.yml",
        """
        name: killed
        job_clusters:
          - job_cluster_key: c
            new_cluster: {num_workers: 1}
        tasks:
          - task_key: slow
            job_cluster_key: c
            notebook_task: {notebook_path: ./slow.py}
        """,
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADRACE_")}
    env |= {"HEADRACE_HOME": str(home), "HEADRACE_SPARK_DRIVER_MEMORY": DRIVER_MEMORY}
    proc = subprocess.Popen(
        [*HEADRACE, "run", str(job)],
        env=env,
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    reap.append(proc.pid)
    wait_for(marker.exists, 600, "the notebook to use Spark")
    assert len(jvms_of("run-1000-c")) == 1
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    wait_for(lambda: jvms_of("run-1000-c") == [], 120, "the cluster's JVM to end")

    # The next command on the store recovers the run (and kills its task) and the cluster.
    subprocess.run([*HEADRACE, "runs", "list"], env=env, check=True, capture_output=True)
    got = subprocess.run(
        [*HEADRACE, "runs", "get", "1000", "--json"], env=env, check=True, capture_output=True
    )
    run = json.loads(got.stdout)
    assert run["state"]["life_cycle_state"] == "INTERNAL_ERROR" or run["state"].get(
        "result_state"
    ) in ("FAILED", "CANCELED"), run["state"]
    assert run["clusters"][0]["state"] == "TERMINATED", run["clusters"]
