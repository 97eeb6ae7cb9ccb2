"""A bundle's JAR task keeps its jar libraries (paths from the YAML file), for spark-submit."""

from __future__ import annotations

from pathlib import Path

import pytest

from headrace.bundle.loader import load_bundle
from headrace.errors import SpecError


def test_jar_libraries_of_a_jar_task_are_kept(tmp_path: Path) -> None:
    (tmp_path / "resources").mkdir()
    (tmp_path / "databricks.yml").write_text("bundle: {name: b}\ninclude: [resources/*.yml]\n")
    (tmp_path / "resources" / "job.yml").write_text(
        "resources:\n  jobs:\n    j:\n      tasks:\n"
        "        - task_key: jar\n"
        "          spark_jar_task: {main_class_name: demo.Hello}\n"
        "          libraries: [{jar: ../target/hello.jar}]\n"
    )
    task = load_bundle(tmp_path / "databricks.yml").jobs["j"].settings.tasks[0]
    assert task.libraries == [{"jar": str(tmp_path / "target" / "hello.jar")}]


def test_a_jar_task_takes_jar_libraries_only(tmp_path: Path) -> None:
    (tmp_path / "databricks.yml").write_text(
        "bundle: {name: b}\nresources:\n  jobs:\n    j:\n      tasks:\n"
        "        - task_key: jar\n"
        "          spark_jar_task: {main_class_name: demo.Hello}\n"
        "          libraries: [{pypi: {package: rich}}]\n"
    )
    with pytest.raises(SpecError, match="a JAR task takes jar libraries only"):
        load_bundle(tmp_path / "databricks.yml")
