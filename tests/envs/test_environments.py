"""Task environments through the real CLI: built once with uv, reused, isolated per spec.

The dependencies are wheels this test writes itself (no package index needed), in two versions
of one distribution so that two tasks of one job can each see their own.
"""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path

from support import Headrace, hr

__all__ = ["hr"]


def build_wheel(folder: Path, version: str) -> Path:
    """A minimal valid wheel of `hrdemo` with a module and a `main` entry point."""
    folder.mkdir(parents=True, exist_ok=True)
    name = f"hrdemo-{version}-py3-none-any.whl"
    dist_info = f"hrdemo-{version}.dist-info"
    files = {
        "hrdemo/__init__.py": (
            f"VERSION = {version!r}\n"
            "def main():\n"
            "    import sys\n"
            "    print('hrdemo main', VERSION, *sys.argv[1:])\n"
        ),
        f"{dist_info}/METADATA": f"Metadata-Version: 2.1\nName: hrdemo\nVersion: {version}\n",
        f"{dist_info}/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: headrace-tests\nRoot-Is-Purelib: true\n"
            "Tag: py3-none-any\n"
        ),
        f"{dist_info}/entry_points.txt": "[hrdemo]\nmain = hrdemo:main\n",
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{path},sha256={digest.decode()},{len(text.encode())}")
    record.append(f"{dist_info}/RECORD,,")
    files[f"{dist_info}/RECORD"] = "\n".join(record) + "\n"
    path = folder / name
    with zipfile.ZipFile(path, "w") as zf:
        for member, text in files.items():
            zf.writestr(member, text)
    return path


JOB = """
name: envs-demo
environments:
  - environment_key: old
    spec: {client: "1", dependencies: ["./wheels/v1/hrdemo-1.0-py3-none-any.whl"]}
  - environment_key: new
    spec: {client: "1", dependencies: ["./wheels/v2/*.whl"]}
tasks:
  - task_key: uses_old
    environment_key: old
    spark_python_task: {python_file: ./show.py}
  - task_key: uses_new
    environment_key: new
    spark_python_task: {python_file: ./show.py}
  - task_key: wheel_new
    environment_key: new
    python_wheel_task: {package_name: hrdemo, entry_point: main, parameters: ["x"]}
  - task_key: plain
    depends_on: [{task_key: uses_old}, {task_key: uses_new}]
    spark_python_task: {python_file: ./plain.py}
"""

SHOW = """
import hrdemo
from headrace.runtime import dbutils
dbutils.jobs.taskValues.set("version", hrdemo.VERSION)
print("hrdemo", hrdemo.VERSION)
"""

PLAIN = """
import importlib.util
from headrace.runtime import dbutils
print("hrdemo importable:", importlib.util.find_spec("hrdemo") is not None)
print("old saw", dbutils.jobs.taskValues.get("uses_old", "version"))
"""


def make_job(hr: Headrace, job: str = JOB) -> Path:
    build_wheel(hr.dir / "wheels" / "v1", "1.0")
    build_wheel(hr.dir / "wheels" / "v2", "2.0")
    hr.write("show.py", SHOW)
    hr.write("plain.py", PLAIN)
    return hr.write("job.yml", job)


def log(hr: Headrace, run_id: int, key: str) -> str:
    result = hr("runs", "logs", str(run_id), key)
    assert result.returncode == 0, str(result)
    return result.stdout


def test_each_task_sees_its_own_environment_built_once(hr: Headrace) -> None:
    job = make_job(hr)
    first = hr("run", job, "--json", timeout=180)
    assert first.returncode == 0, str(first)
    run_id = first.json()["run_id"]
    assert "hrdemo 1.0" in log(hr, run_id, "uses_old")
    assert "hrdemo 2.0" in log(hr, run_id, "uses_new")
    assert "hrdemo main 2.0 x" in log(hr, run_id, "wheel_new")
    plain = log(hr, run_id, "plain")
    # Without an environment a task runs on Headrace's own interpreter, which lacks hrdemo.
    assert "hrdemo importable: False" in plain and "old saw 1.0" in plain
    assert "creating environment" in log(hr, run_id, "uses_old")

    second = hr("run", job, "--json", timeout=180)
    assert second.returncode == 0, str(second)
    again = log(hr, second.json()["run_id"], "uses_old")
    assert "using environment" in again and "creating environment" not in again

    listed = hr("envs", "list", "--json")
    envs = listed.json()["environments"]
    assert len(envs) == 2  # two distinct specs, however many tasks and runs
    pruned = hr("envs", "prune", "--unused-for", "0s")
    assert pruned.returncode == 0 and "removed 2 environments" in pruned.stdout
    assert hr("envs", "list", "--json").json()["environments"] == []


def test_a_broken_requirement_fails_only_its_task(hr: Headrace) -> None:
    job = make_job(
        hr,
        JOB.replace(
            "./wheels/v1/hrdemo-1.0-py3-none-any.whl", "./wheels/missing-9.9-py3-none-any.whl"
        ),
    )
    result = hr("run", job, "--json", timeout=180)
    assert result.returncode == 1, str(result)
    tasks = {t["task_key"]: t for t in result.json()["tasks"]}
    old = tasks["uses_old"]["state"]
    assert old["result_state"] == "FAILED"
    assert "could not build the task's environment" in old["state_message"]
    assert "missing-9.9-py3-none-any.whl" in old["state_message"]
    assert tasks["uses_new"]["state"]["result_state"] == "SUCCESS"
    assert tasks["plain"]["state"]["result_state"] == "UPSTREAM_FAILED"
    # Nothing half-built is kept: the failed spec leaves no environment behind.
    assert len(hr("envs", "list", "--json").json()["environments"]) == 1


def test_bad_prune_age_is_refused(hr: Headrace) -> None:
    bad = hr("envs", "prune", "--unused-for", "soon")
    assert bad.returncode == 2
    assert "--unused-for: expected e.g. 7d" in bad.stderr


def test_runner_task_types_ignore_the_environment(hr: Headrace) -> None:
    """Notebook and SQL tasks run Headrace's own runners: an environment_key leaves them be."""
    job = make_job(
        hr,
        """
        name: envs-runners
        environments:
          - environment_key: old
            spec: {client: "1", dependencies: ["./wheels/v1/hrdemo-1.0-py3-none-any.whl"]}
        tasks:
          - task_key: query
            environment_key: old
            sql_task: {query: {query_text: "SELECT 42 AS answer"}}
        """,
    )
    result, run = hr.run_json(job)
    assert result.returncode == 0, str(result)
    assert "42" in log(hr, run["run_id"], "query")
    assert hr("envs", "list", "--json").json()["environments"] == []
