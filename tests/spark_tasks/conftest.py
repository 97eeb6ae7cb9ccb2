"""Fixtures of the spark_jar_task / spark_submit_task tests: a jar built here with javac."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from support import Headrace

from .jar_support import build_jar


@pytest.fixture(scope="session")
def hello_jar(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One jar (javac + jar) for every test of the folder."""
    return build_jar(tmp_path_factory.mktemp("jar"))


@pytest.fixture(scope="session")
def spark_hr(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Headrace]:
    """The CLI over one data directory for the folder's tests (one metastore and warm server
    start, not one per module); every JVM of it stopped after."""
    from spark.compute_support import spark_cli

    yield from spark_cli(tmp_path_factory.mktemp("spark-cli"))


__all__ = ["hello_jar", "spark_hr"]
