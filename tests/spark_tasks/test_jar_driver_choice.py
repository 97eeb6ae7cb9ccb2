"""Which JVM a spark_jar_task runs in (headrace.worker.jar_driver.driver_for_task), without
starting one: a running cluster's state is what its keeper writes, here with this process
standing in as the keeper."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from headrace.compute.server import JAR_TASK_CONF, JAR_TASK_PLUGIN
from headrace.worker.jar_driver import MODE_ENV, driver_for_task


def _running(folder: Path, conf: dict[str, str]) -> None:
    folder.mkdir(parents=True)
    state = {
        "state": "RUNNING",
        "keeper_pid": os.getpid(),
        "cluster_id": folder.name,
        "port": 15002,
        "master": "local[1]",
        "spark_home": "/nowhere",
        "driver_log": str(folder / "driver.log"),
        "conf": conf,
    }
    (folder / "state.json").write_text(json.dumps(state))


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.delenv(MODE_ENV, raising=False)
    monkeypatch.delenv("HEADRACE_SPARK_CLUSTER_ID", raising=False)
    return monkeypatch


def test_the_warm_driver_takes_the_task_when_it_has_the_command(
    tmp_path: Path, env: pytest.MonkeyPatch
) -> None:
    _running(tmp_path / "spark" / "warm", {JAR_TASK_CONF: f"x.Other,{JAR_TASK_PLUGIN}"})
    address, why_not = driver_for_task(tmp_path)
    assert address is not None and address.cluster_id == "warm", why_not
    assert (tmp_path / "spark" / "warm" / "leases" / str(os.getpid())).exists()


def test_a_cluster_started_without_the_command_falls_back_to_spark_submit(
    tmp_path: Path, env: pytest.MonkeyPatch
) -> None:
    _running(tmp_path / "spark" / "clusters" / "c1", {})
    env.setenv("HEADRACE_SPARK_CLUSTER_ID", "c1")
    address, why_not = driver_for_task(tmp_path)
    assert address is None
    assert why_not == "cluster c1 was started without the JAR-task command"


def test_submit_mode_and_a_stopped_cluster_use_spark_submit(
    tmp_path: Path, env: pytest.MonkeyPatch
) -> None:
    env.setenv(MODE_ENV, "submit")
    assert driver_for_task(tmp_path) == (None, f"{MODE_ENV}=submit")
    env.delenv(MODE_ENV)
    env.setenv("HEADRACE_SPARK_CLUSTER_ID", "gone")
    assert driver_for_task(tmp_path) == (None, "cluster gone is not running here")
