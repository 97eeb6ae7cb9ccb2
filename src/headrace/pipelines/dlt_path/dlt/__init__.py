"""`import dlt` for pipeline code: Databricks' DLT names mapped to Spark Declarative Pipelines.

What has an equivalent in `pyspark.pipelines` works (`table`, `view`, `materialized_view`,
`read`, `read_stream`, `create_streaming_table`, `append_flow`); the rest stops the update with a
message naming the construct.
"""

from __future__ import annotations

from typing import Any

from pyspark import pipelines as _dp


def _spark() -> Any:
    from pyspark.sql import SparkSession

    return SparkSession.getActiveSession() or SparkSession.builder.getOrCreate()


def table(query_function: Any = None, **options: Any) -> Any:
    """`@dlt.table`: a materialized view of a batch query, a streaming table of a stream."""
    from headrace.pipelines.databricks_table import table as databricks_table

    options = {k: v for k, v in options.items() if k not in ("path", "temporary")}
    return databricks_table(query_function, **options)


materialized_view = _dp.materialized_view
create_streaming_table = _dp.create_streaming_table
append_flow = _dp.append_flow


def view(query_function: Any = None, **options: Any) -> Any:
    """`@dlt.view`: a temporary view of the pipeline."""
    if query_function is None:
        return _dp.temporary_view(**options)
    return _dp.temporary_view(query_function)


def read(name: str) -> Any:
    """`dlt.read(name)`: the dataset `name` of this pipeline, as a batch DataFrame."""
    return _spark().read.table(name)


def read_stream(name: str) -> Any:
    """`dlt.read_stream(name)`: the dataset `name` of this pipeline, as a stream."""
    return _spark().readStream.table(name)


def _unsupported(construct: str) -> Any:
    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise NotImplementedError(
            f"dlt.{construct} is not supported by Spark Declarative Pipelines (Headrace runs "
            "pipelines on pyspark.pipelines); remove it or use pyspark.pipelines' equivalent"
        )

    return refuse


for _name in (
    "expect",
    "expect_or_drop",
    "expect_or_fail",
    "expect_all",
    "expect_all_or_drop",
    "expect_all_or_fail",
    "apply_changes",
    "apply_changes_from_snapshot",
    "create_auto_cdc_flow",
    "create_auto_cdc_from_snapshot_flow",
    "create_sink",
    "create_target_table",
):
    globals()[_name] = _unsupported(_name)
del _name
