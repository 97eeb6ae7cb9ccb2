"""Pipelines fixtures: sources of a 3-table pipeline, a broken one, the CLI and a server."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from support import Headrace, Server

SOURCES = {
    "good/raw.py": """
        from pyspark import pipelines as dp


        @dp.materialized_view
        def raw_orders():
            return spark.range(10).selectExpr("id", "id % 3 AS customer")
        """,
    "good/per_customer.sql": """
        CREATE MATERIALIZED VIEW per_customer AS
        SELECT customer, count(*) AS n FROM raw_orders GROUP BY customer
        """,
    "good/summary.py": """
        import dlt


        @dlt.table
        def summary():
            return dlt.read("per_customer").selectExpr("count(*) AS customers", "sum(n) AS orders")
        """,
    "cycle/a.sql": "CREATE MATERIALIZED VIEW a AS SELECT * FROM b\n",
    "cycle/b.sql": "CREATE MATERIALIZED VIEW b AS SELECT * FROM a\n",
    "expect/checked.py": """
        import dlt


        @dlt.table
        @dlt.expect("positive", "id > 0")
        def checked():
            return spark.range(3)
        """,
}


def write_sources(root: Path) -> Path:
    for name, text in SOURCES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    return root


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_sources(tmp_path_factory.mktemp("pipeline-sources"))


@pytest.fixture(scope="module")
def spark_hr(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Headrace]:
    """The CLI over one data directory for the module; every JVM of it stopped after."""
    from spark.compute_support import spark_cli

    yield from spark_cli(tmp_path_factory.mktemp("pipelines-cli"))


@pytest.fixture(scope="module")
def spark_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    from spark.compute_support import serve

    yield from serve(tmp_path_factory.mktemp("pipelines-server"), workers=2)


__all__ = ["sources", "spark_hr", "spark_server", "write_sources"]
