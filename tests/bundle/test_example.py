"""The example bundle (examples/bundle): validated, run here, deployed to a real server and run
there. It builds a real wheel (uv build), runs SQL on the embedded warehouse, a Databricks
notebook with %sql and task values, a condition, a wheel task in its own environment, and a job
written in Python with databricks-bundles."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from support import Headrace, Server, hr

__all__ = ["hr"]

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "bundle"


@pytest.fixture
def bundle(hr: Headrace) -> Path:
    target = hr.dir / "bundle"
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns("dist", "__pycache__"))
    return target


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("example-server"), workers=2)
    try:
        srv.start()
        yield srv
    finally:
        srv.close()


def log(hr: Headrace, run_id: int, key: str) -> str:
    result = hr("runs", "logs", str(run_id), key)
    assert result.returncode == 0, str(result)
    return result.stdout


def test_example_validates_for_both_targets(hr: Headrace, bundle: Path) -> None:
    for target in ("dev", "prod"):
        result = hr("bundle", "validate", "-t", target, "--path", bundle, timeout=120)
        assert result.returncode == 0, str(result)
        assert "retail_daily:" in result.stdout and "retail_report:" in result.stdout


def test_example_runs_locally(hr: Headrace, bundle: Path) -> None:
    result = hr("bundle", "run", "retail_daily", "--path", bundle, "--json", timeout=300)
    assert result.returncode == 0, str(result)
    run = result.json()
    assert {t["task_key"]: t["state"]["result_state"] for t in run["tasks"]} == {
        "load": "SUCCESS",
        "explore": "SUCCESS",
        "enough_rows": "SUCCESS",
        "summarize": "SUCCESS",
    }
    assert "teapot  | 92.50" in log(hr, run["run_id"], "load")
    assert "5 products, 396.20 revenue, 79.24 each" in log(hr, run["run_id"], "summarize")
    report = hr("bundle", "run", "retail_report", "--path", bundle, "--json", timeout=120)
    assert report.returncode == 0, str(report)
    assert "teapot" in log(hr, report.json()["run_id"], "top_products")


def test_example_deploys_and_runs_on_a_server(hr: Headrace, bundle: Path, server: Server) -> None:
    user = server.user("dana")
    auth = ("--path", str(bundle), "--server", server.url, "--token", user.token)
    deployed = hr("bundle", "deploy", "-t", "prod", *auth, timeout=300)
    assert deployed.returncode == 0, str(deployed)
    ran = hr("bundle", "run", "retail_daily", "-t", "prod", *auth, "--json", timeout=300)
    assert ran.returncode == 0, str(ran) + server.log()
    run = ran.json()
    summarize = next(t for t in run["tasks"] if t["task_key"] == "summarize")
    assert "5 products" in user.w.jobs.get_run_output(summarize["run_id"]).logs
    explore = next(t for t in run["tasks"] if t["task_key"] == "explore")
    output = user.w.jobs.get_run_output(explore["run_id"])
    assert output.notebook_output.result == "amer: 5 products, 396.20 revenue"
