"""Fixtures of the spark_jar_task / spark_submit_task tests: a jar built here with javac."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from support import Headrace

from .jar_support import build_jar


@pytest.fixture(scope="module")
def hello_jar(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_jar(tmp_path_factory.mktemp("jar"))


@pytest.fixture(scope="module")
def spark_hr(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Headrace]:
    """The CLI over one data directory for the module (one metastore start); stopped after."""
    from spark.compute_support import spark_cli

    yield from spark_cli(tmp_path_factory.mktemp("spark-cli"))


__all__ = ["hello_jar", "spark_hr"]
