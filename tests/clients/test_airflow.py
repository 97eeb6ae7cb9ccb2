"""Airflow's Databricks provider (real `apache-airflow` + `apache-airflow-providers-databricks`
in their own virtualenv) against a real `headrace server` over https.

One Airflow process executes every operator (airflow_driver.py; importing Airflow is slow),
the tests below check each outcome and what the server recorded.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import TlsServer, upload

DRIVER = Path(__file__).with_name("airflow_driver.py")
NOTEBOOK = """# Databricks notebook source
dbutils.widgets.text("name", "nobody")
# COMMAND ----------
dbutils.notebook.exit("hello " + dbutils.widgets.get("name"))
"""
WS = "/Users/alice/airflow"


@pytest.fixture(scope="module")
def files(tls_server: TlsServer, alice_token: str, tmp_path_factory: pytest.TempPathFactory):
    """Scripts on disk and a notebook in the workspace."""
    root = tmp_path_factory.mktemp("airflow-files")
    (root / "ok.py").write_text("import sys\nprint('args', sys.argv[1:])\n")
    (root / "slow.py").write_text("import time\ntime.sleep(2)\nprint('slept')\n")
    (root / "fail.py").write_text("raise ValueError('boom from a headrace task')\n")
    (root / "flaky.py").write_text(
        "import pathlib, sys\n"
        f"marker = pathlib.Path({str(root / 'flaky.marker')!r})\n"
        "if not marker.exists():\n"
        "    marker.write_text('x')\n"
        "    sys.exit('first attempt fails')\n"
    )
    with tls_server.api(alice_token) as api:
        upload(api, f"{WS}/nb", NOTEBOOK)
    return root


def _create_job(api: httpx.Client, settings: dict[str, Any]) -> int:
    done = api.post("/api/2.1/jobs/create", json=settings)
    assert done.status_code == 200, done.text
    return done.json()["job_id"]


@pytest.fixture(scope="module")
def outcomes(
    tls_server: TlsServer, alice_token: str, airflow_python: Path, files: Path, tmp_path_factory
) -> dict[str, Any]:
    """Every scenario executed by the provider's operators in one Airflow process."""
    py = lambda name, *params: {  # noqa: E731
        "python_file": str(files / name),
        "parameters": list(params),
    }
    with tls_server.api(alice_token) as api:
        legacy_job = _create_job(
            api,
            {
                "name": "airflow-legacy-params",
                "tasks": [
                    {"task_key": "nb", "notebook_task": {"notebook_path": f"{WS}/nb"}},
                    {"task_key": "py", "spark_python_task": py("ok.py", "default")},
                ],
            },
        )
        params_job = _create_job(
            api,
            {
                "name": "airflow-job-params",
                "parameters": [{"name": "name", "default": "default"}],
                "tasks": [{"task_key": "nb", "notebook_task": {"notebook_path": f"{WS}/nb"}}],
            },
        )
        flaky_job = _create_job(
            api,
            {
                "name": "airflow-flaky",
                "tasks": [{"task_key": "f", "spark_python_task": py("flaky.py")}],
            },
        )
    scenarios = {
        "submit_tasks": {
            "kind": "submit",
            "kwargs": {
                "run_name": "airflow tasks form",
                "tasks": [
                    {"task_key": "a", "spark_python_task": py("ok.py", "x")},
                    {
                        "task_key": "b",
                        "depends_on": [{"task_key": "a"}],
                        "notebook_task": {"notebook_path": f"{WS}/nb"},
                    },
                ],
            },
        },
        "run_now_legacy_params": {
            "kind": "run_now",
            "kwargs": {
                "job_name": "airflow-legacy-params",
                "notebook_params": {"name": "from-airflow"},
                "python_params": ["p1", "p2"],
            },
        },
        "run_now_job_parameters": {
            "kind": "run_now",
            "kwargs": {"job_id": params_job, "job_parameters": {"name": "job-param"}},
        },
        "deferrable": {
            "kind": "submit",
            "kwargs": {
                "run_name": "airflow deferrable",
                "deferrable": True,
                "tasks": [{"task_key": "slow", "spark_python_task": py("slow.py")}],
            },
        },
        "repair": {"kind": "run_now", "kwargs": {"job_id": flaky_job, "repair_run": True}},
        "failing": {
            "kind": "submit",
            "kwargs": {
                "run_name": "airflow failing",
                "tasks": [{"task_key": "bad", "spark_python_task": py("fail.py")}],
            },
        },
        "test_connection": {"kind": "test_connection"},
    }
    results = _run_driver(tls_server, alice_token, airflow_python, scenarios, tmp_path_factory)
    results["_jobs"] = {"legacy": legacy_job, "params": params_job, "flaky": flaky_job}
    return results


def _run_driver(
    tls_server: TlsServer, token: str, python: Path, scenarios: dict[str, Any], tmp_path_factory
) -> dict[str, Any]:
    """Execute `scenarios` in one Airflow process; returns its outcomes by scenario name."""
    home = tmp_path_factory.mktemp("airflow-home")
    connection = {
        "conn_type": "databricks",
        "host": "127.0.0.1",
        "port": tls_server.port,
        "schema": "https",
        "password": token,
    }
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        "AIRFLOW_CONN_DATABRICKS_DEFAULT": json.dumps(connection),
        # The provider verifies https: requests and aiohttp trust the server's certificate.
        "REQUESTS_CA_BUNDLE": str(tls_server.cert),
        "SSL_CERT_FILE": str(tls_server.cert),
        "NO_PROXY": "127.0.0.1,localhost",
        "PYTHONWARNINGS": "ignore",
    }
    done = subprocess.run(
        [str(python), str(DRIVER), json.dumps(scenarios)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=home,
    )
    marker = "@@RESULTS@@"
    assert marker in done.stdout, f"{done.stdout[-3000:]}\n{done.stderr[-5000:]}"
    results = json.loads(done.stdout.split(marker, 1)[1])
    return results


@pytest.fixture(scope="module")
def cluster_outcomes(
    tls_server: TlsServer, alice_token: str, airflow_python: Path, files: Path, tmp_path_factory
) -> Iterator[dict[str, Any]]:
    """The operators that need a cluster (classic form, Notebook and Task operators), on one
    named cluster made through the Clusters API (a real Spark server), deleted afterwards."""
    with tls_server.api(alice_token) as api:
        made = api.post(
            "/api/2.0/clusters/create",
            json={"cluster_name": "airflow", "spark_version": "15.4.x-scala2.12", "num_workers": 0},
        )
        assert made.status_code == 200, made.text
        cluster = made.json()["cluster_id"]
    py = {"python_file": str(files / "ok.py"), "parameters": ["task-operator"]}
    scenarios = {
        "submit_classic": {
            "kind": "submit",
            "kwargs": {
                "run_name": "airflow classic form",
                "existing_cluster_id": cluster,
                "notebook_task": {
                    "notebook_path": f"{WS}/nb",
                    "base_parameters": {"name": "classic"},
                },
            },
        },
        "notebook_operator": {
            "kind": "notebook",
            "kwargs": {
                "notebook_path": f"{WS}/nb",
                "source": "WORKSPACE",
                "existing_cluster_id": cluster,
                "notebook_params": {"name": "notebook-operator"},
            },
        },
        "task_operator": {
            "kind": "task",
            "kwargs": {
                "task_config": {"spark_python_task": py},
                "existing_cluster_id": cluster,
            },
        },
    }
    try:
        yield _run_driver(tls_server, alice_token, airflow_python, scenarios, tmp_path_factory)
    finally:
        with tls_server.api(alice_token) as api:
            api.post("/api/2.0/clusters/permanent-delete", json={"cluster_id": cluster})


def _ok(result: dict[str, Any]) -> None:
    assert result.get("ok") is True, result.get("error")


def _run(server: TlsServer, token: str, run_id: int) -> dict[str, Any]:
    with server.api(token) as api:
        return api.get("/api/2.1/jobs/runs/get", params={"run_id": run_id}).json()


def _exit_values(server: TlsServer, token: str, run: dict[str, Any]) -> dict[str, str]:
    """Each notebook task's dbutils.notebook.exit value."""
    out = {}
    with server.api(token) as api:
        for task in run["tasks"]:
            if "notebook_task" in task:
                got = api.get("/api/2.1/jobs/runs/get-output", params={"run_id": task["run_id"]})
                out[task["task_key"]] = got.json()["notebook_output"]["result"]
    return out


def test_submit_run_tasks_form(outcomes, tls_server, alice_token):
    result = outcomes["submit_tasks"]
    _ok(result)
    run = _run(tls_server, alice_token, result["run_id"])
    assert run["state"]["result_state"] == "SUCCESS"
    assert result["xcom"]["run_page_url"] == f"{tls_server.url}/runs/{result['run_id']}"
    assert _exit_values(tls_server, alice_token, run) == {"b": "hello nobody"}


@pytest.mark.spark
def test_submit_run_classic_single_task_form(cluster_outcomes, tls_server, alice_token):
    result = cluster_outcomes["submit_classic"]
    _ok(result)
    run = _run(tls_server, alice_token, result["run_id"])
    (task,) = run["tasks"]
    assert task["task_key"] == "airflow_classic_form"
    assert task["existing_cluster_id"]
    assert _exit_values(tls_server, alice_token, run) == {"airflow_classic_form": "hello classic"}


def test_run_now_by_job_name_with_notebook_and_python_params(outcomes, tls_server, alice_token):
    result = outcomes["run_now_legacy_params"]
    _ok(result)
    run = _run(tls_server, alice_token, result["run_id"])
    assert run["job_id"] == outcomes["_jobs"]["legacy"]
    assert _exit_values(tls_server, alice_token, run) == {"nb": "hello from-airflow"}
    py_task = next(t for t in run["tasks"] if t["task_key"] == "py")
    assert py_task["spark_python_task"]["parameters"] == ["p1", "p2"]


def test_run_now_with_job_parameters(outcomes, tls_server, alice_token):
    result = outcomes["run_now_job_parameters"]
    _ok(result)
    run = _run(tls_server, alice_token, result["run_id"])
    assert _exit_values(tls_server, alice_token, run) == {"nb": "hello job-param"}


@pytest.mark.spark
def test_notebook_operator(cluster_outcomes, tls_server, alice_token):
    result = cluster_outcomes["notebook_operator"]
    _ok(result)
    run = _run(tls_server, alice_token, result["run_id"])
    assert list(_exit_values(tls_server, alice_token, run).values()) == ["hello notebook-operator"]


@pytest.mark.spark
def test_task_operator(cluster_outcomes, tls_server, alice_token):
    result = cluster_outcomes["task_operator"]
    _ok(result)
    run = _run(tls_server, alice_token, result["run_id"])
    assert run["state"]["result_state"] == "SUCCESS"
    assert run["tasks"][0]["spark_python_task"]["parameters"] == ["task-operator"]


def test_deferrable_mode_through_the_async_hook(outcomes):
    result = outcomes["deferrable"]
    _ok(result)
    assert result["deferred"] is True  # the run was still going: the trigger polled it
    assert result["event"]["run_state"]
    assert json.loads(result["event"]["run_state"])["result_state"] == "SUCCESS"


def test_repair_run_reruns_the_failed_task(outcomes, tls_server, alice_token):
    result = outcomes["repair"]
    # The provider repairs, waits for the repaired run, and still fails the Airflow task
    # with the first failure (its own rule); the run itself ends repaired and green.
    assert result["ok"] is False and "first attempt fails" in result["error"], result
    run = _run(tls_server, alice_token, result["run_id"])
    assert run["repair_count"] == 1
    assert run["state"]["result_state"] == "SUCCESS"


def test_failing_task_raises_the_providers_exception_with_the_task_error(outcomes):
    result = outcomes["failing"]
    assert result["ok"] is False
    assert result["error_type"] == "AirflowException"
    assert "boom from a headrace task" in result["error"]


def test_hook_test_connection(outcomes):
    result = outcomes["test_connection"]
    assert result == {"ok": True, "message": "Connection successfully tested"}
