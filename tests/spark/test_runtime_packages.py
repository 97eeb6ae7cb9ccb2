"""A Python task on a cluster sees the runtime's packages, as on Databricks Runtime.

Databricks' default-python template runs a wheel doing `from databricks.sdk.runtime import
spark` on a job cluster, with only its own wheel in `libraries`. Its task environment (a uv venv)
holds no pyspark; on a cluster the runtime's packages (pyspark, py4j, ...) come after the
environment's own (headrace.compute.runtime_packages). A serverless task (an `environment_key`,
no cluster) gets them too: Databricks' serverless environments include Databricks Connect, and
the default-python template's serverless variant runs the same wheel.
"""

from __future__ import annotations

import base64
import hashlib
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from support import Headrace

pytestmark = pytest.mark.spark

MODULE = """
import importlib.util


def main():
    if importlib.util.find_spec("pyspark") is None:
        print("no pyspark here")
        return
    from databricks.sdk.runtime import spark

    import hrspark
    print("spark count", spark.range(3).count(), "from", hrspark.__file__)
"""

BUNDLE = """
bundle: {name: runtime_packages}
resources:
  jobs:
    wheel_job:
      name: wheel_job
      job_clusters:
        - job_cluster_key: job_cluster
          new_cluster: {spark_version: 16.4.x-scala2.12, node_type_id: i3.xlarge, num_workers: 1}
      environments:
        - environment_key: serverless
          spec: {client: "2", dependencies: ["./dist/hrspark-1.0-py3-none-any.whl"]}
      tasks:
        - task_key: on_cluster
          job_cluster_key: job_cluster
          python_wheel_task: {package_name: hrspark, entry_point: main}
          libraries: [{whl: ./dist/*.whl}]
        - task_key: serverless
          environment_key: serverless
          python_wheel_task: {package_name: hrspark, entry_point: main}
"""


def build_wheel(folder: Path) -> Path:
    """A wheel of `hrspark` whose `main` uses `spark` from databricks.sdk.runtime."""
    folder.mkdir(parents=True, exist_ok=True)
    info = "hrspark-1.0.dist-info"
    files = {
        "hrspark/__init__.py": MODULE,
        f"{info}/METADATA": "Metadata-Version: 2.1\nName: hrspark\nVersion: 1.0\n",
        f"{info}/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: headrace-tests\nRoot-Is-Purelib: true\n"
            "Tag: py3-none-any\n"
        ),
        f"{info}/entry_points.txt": "[console_scripts]\nmain = hrspark:main\n",
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{path},sha256={digest.decode()},{len(text.encode())}")
    files[f"{info}/RECORD"] = "\n".join([*record, f"{info}/RECORD,,"]) + "\n"
    wheel = folder / "hrspark-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for member, text in files.items():
            zf.writestr(member, text)
    return wheel


@pytest.fixture(scope="module")
def spark_hr(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Headrace]:
    from .compute_support import spark_cli

    yield from spark_cli(tmp_path_factory.mktemp("runtime-packages"))


def test_a_wheel_on_a_job_cluster_or_serverless_gets_spark_from_the_runtime(
    spark_hr: Headrace,
) -> None:
    hr = spark_hr
    project = hr.dir / "project"
    build_wheel(project / "dist")
    (project / "databricks.yml").write_text(BUNDLE)
    result = hr("bundle", "run", "wheel_job", "--path", project, "--json", timeout=1500)
    run = result.json()
    states = {t["task_key"]: t["state"].get("result_state") for t in run["tasks"]}
    assert states == {"on_cluster": "SUCCESS", "serverless": "SUCCESS"}, str(result)
    logs = hr.home / "logs" / str(run["run_id"])
    on_cluster = next(logs.glob("on_cluster/*/output.log")).read_text()
    assert "spark count 3 from" in on_cluster, on_cluster
    # The task's own package comes from its environment, not from a runtime folder.
    assert f"{hr.home / 'envs'}" in on_cluster and "envs/runtime" not in on_cluster
    serverless = next(logs.glob("serverless/*/output.log")).read_text()
    assert "spark count 3 from" in serverless, serverless
    (runtime,) = (hr.home / "envs" / "runtime").iterdir()
    assert (runtime / "pyspark").is_symlink()  # links, not a pyspark install per environment
