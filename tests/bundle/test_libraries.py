"""A task's `libraries` (pypi with repo, whl, requirements) installed into its uv environment;
jar/egg refused; notebooks get them too. The packages are wheels this test writes (a local index)."""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path

import pytest

from headrace.bundle.loader import load_bundle
from headrace.errors import SpecError
from support import Headrace, hr

__all__ = ["hr"]


def make_wheel(folder: Path, name: str, version: str) -> Path:
    """A wheel of package `name` whose module holds VERSION."""
    folder.mkdir(parents=True, exist_ok=True)
    meta = f"{name}-{version}.dist-info"
    members = {
        f"{name}/__init__.py": f"VERSION = {version!r}\n",
        f"{meta}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{meta}/WHEEL": "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    hashes = []
    for member, body in members.items():
        raw = hashlib.sha256(body.encode()).digest()
        hashes.append(f"{member},sha256={base64.urlsafe_b64encode(raw).rstrip(b'=').decode()},")
    members[f"{meta}/RECORD"] = "\n".join([*hashes, f"{meta}/RECORD,,"]) + "\n"
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for member, body in members.items():
            archive.writestr(member, body)
    return wheel


BUNDLE = """
bundle: {name: libs}
resources:
  jobs:
    libs:
      environments:
        - environment_key: base
          spec: {client: "1", dependencies: ["./wheels/hrwheel-1.0-py3-none-any.whl"]}
      tasks:
        - task_key: all_kinds
          spark_python_task: {python_file: ./show.py}
          libraries:
            - whl: ./wheels/hrwheel-1.0-py3-none-any.whl
            - pypi: {package: "hrpriv==2.0", repo: "INDEX"}
            - requirements: ./requirements.txt
        - task_key: on_base
          depends_on: [{task_key: all_kinds}]
          environment_key: base
          spark_python_task: {python_file: ./show_base.py}
          libraries:
            - pypi: {package: hrpriv, repo: "INDEX"}
        - task_key: plain
          depends_on: [{task_key: on_base}]
          environment_key: base
          spark_python_task: {python_file: ./show_plain.py}
"""

SHOW = "import hrwheel, hrpriv, hrreq\nprint('versions', hrwheel.VERSION, hrpriv.VERSION, hrreq.VERSION)\n"
SHOW_BASE = "import hrwheel, hrpriv\nprint('base', hrwheel.VERSION, hrpriv.VERSION)\n"
SHOW_PLAIN = """
import importlib.util
print('plain sees hrpriv:', importlib.util.find_spec('hrpriv') is not None)
"""


def make_bundle(folder: Path) -> None:
    make_wheel(folder / "wheels", "hrwheel", "1.0")
    make_wheel(folder / "other", "hrreq", "3.0")
    index = folder / "index"
    wheel = make_wheel(index / "hrpriv", "hrpriv", "2.0")
    (index / "hrpriv" / "index.html").write_text(f'<a href="{wheel.name}">{wheel.name}</a>\n')
    (folder / "requirements.txt").write_text("./other/hrreq-3.0-py3-none-any.whl\n")
    (folder / "databricks.yml").write_text(BUNDLE.replace("INDEX", index.as_uri()))
    (folder / "show.py").write_text(SHOW)
    (folder / "show_base.py").write_text(SHOW_BASE)
    (folder / "show_plain.py").write_text(SHOW_PLAIN)


def test_libraries_become_the_tasks_environment(tmp_path: Path) -> None:
    make_bundle(tmp_path)
    job = load_bundle(tmp_path, env={}).jobs["libs"].settings
    envs = {e.environment_key: e.spec.dependencies for e in job.environments}
    assert [t.environment_key for t in job.tasks] == [
        "libraries-all_kinds",
        "base+libraries-on_base",
        "base",
    ]
    index = (tmp_path / "index").as_uri()
    assert envs["libraries-all_kinds"] == [
        str(tmp_path / "wheels" / "hrwheel-1.0-py3-none-any.whl"),
        f"--extra-index-url={index}",
        "hrpriv==2.0",
        f"-r {tmp_path / 'requirements.txt'}",
    ]
    assert envs["base+libraries-on_base"][-2:] == [f"--extra-index-url={index}", "hrpriv"]
    assert envs["base"] == [str(tmp_path / "wheels" / "hrwheel-1.0-py3-none-any.whl")]


def test_libraries_are_installed_and_only_for_their_task(hr: Headrace) -> None:
    make_bundle(hr.dir)
    ran = hr("bundle", "run", "libs", "--json", timeout=300)
    assert ran.returncode == 0, str(ran)
    run_id = str(ran.json()["run_id"])
    logs = {k: hr("runs", "logs", run_id, k).stdout for k in ("all_kinds", "on_base", "plain")}
    assert "versions 1.0 2.0 3.0" in logs["all_kinds"]
    assert "base 1.0 2.0" in logs["on_base"]
    assert "plain sees hrpriv: False" in logs["plain"]


@pytest.mark.parametrize("kind", ["jar", "egg", "maven"])
def test_jvm_and_egg_libraries_are_refused(tmp_path: Path, kind: str) -> None:
    make_bundle(tmp_path)
    text = (tmp_path / "databricks.yml").read_text()
    value = "{coordinates: a:b:1}" if kind == "maven" else "./x"
    text = text.replace("- whl: ./wheels/hrwheel-1.0-py3-none-any.whl", f"- {kind}: {value}")
    (tmp_path / "databricks.yml").write_text(text)
    with pytest.raises(SpecError, match=rf"tasks\[0\]\.libraries\[0\]\.{kind}: "):
        load_bundle(tmp_path, env={})


NOTEBOOK_BUNDLE = """
bundle: {name: nb}
resources:
  jobs:
    j:
      tasks:
        - task_key: n
          notebook_task: {notebook_path: ./nb.py}
          libraries:
            - whl: ./wheels/hrwheel-1.0-py3-none-any.whl
            - pypi: {package: "hrpriv==2.0", repo: "INDEX"}
        - task_key: bare
          notebook_task: {notebook_path: ./bare.py}
        - task_key: loop
          for_each_task:
            inputs: '[1]'
            task:
              task_key: inner
              spark_python_task: {python_file: ./bare.py}
              libraries: [{pypi: {package: requests}}]
"""
NOTEBOOK = """# Databricks notebook source
import hrwheel, hrpriv
print("notebook sees", hrwheel.VERSION, hrpriv.VERSION)
"""
BARE = """# Databricks notebook source
import importlib.util
print("bare sees hrwheel:", importlib.util.find_spec("hrwheel") is not None)
"""


def make_notebook_bundle(folder: Path) -> None:
    make_wheel(folder / "wheels", "hrwheel", "1.0")
    index = folder / "index"
    wheel = make_wheel(index / "hrpriv", "hrpriv", "2.0")
    (index / "hrpriv" / "index.html").write_text(f'<a href="{wheel.name}">{wheel.name}</a>\n')
    (folder / "databricks.yml").write_text(NOTEBOOK_BUNDLE.replace("INDEX", index.as_uri()))
    (folder / "nb.py").write_text(NOTEBOOK)
    (folder / "bare.py").write_text(BARE)


def test_a_notebooks_libraries_are_installed_for_its_cells(hr: Headrace) -> None:
    make_notebook_bundle(hr.dir)
    bundle = load_bundle(hr.dir, env={})
    job = bundle.jobs["j"].settings
    assert job.tasks[0].environment_key == "libraries-n"
    assert not any("tasks[0].libraries" in w for w in bundle.warnings), bundle.warnings
    # A nested for_each task's libraries are still only named in a warning.
    assert any(
        "tasks[2].for_each_task.task.libraries: not installed for a for_each_task" in w
        for w in bundle.warnings
    ), bundle.warnings
    ran = hr("bundle", "run", "j", "--json", timeout=300)
    assert ran.returncode == 0, str(ran)
    run_id = str(ran.json()["run_id"])
    assert "notebook sees 1.0 2.0" in hr("runs", "logs", run_id, "n").stdout
    assert "bare sees hrwheel: False" in hr("runs", "logs", run_id, "bare").stdout
