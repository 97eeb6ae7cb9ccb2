"""`@dp.table` with Databricks' meaning, on open-source Spark Declarative Pipelines.

On Databricks, `@dp.table` (and `@dlt.table` before it) makes a streaming table when its query
is a stream and a materialized view when it is a batch query; the bundle templates rely on that
(`return spark.read.table(...)`). pyspark's own `pyspark.pipelines.table` only makes streaming
tables and refuses a batch query. `install()` (called by an update before it runs the sources)
puts `table` in its place: the query function is evaluated once in SDP's analysis context (as
SDP itself does), and a batch plan is registered as a materialized view. Evaluation problems
fall back to pyspark's `table`, whose own error then stands.
"""

from __future__ import annotations

from typing import Any

_ORIGINAL: dict[str, Any] = {}


def install() -> None:
    import pyspark.pipelines as dp

    if "table" not in _ORIGINAL:
        _ORIGINAL["table"] = dp.table
        dp.table = table


def table(query_function: Any = None, **options: Any) -> Any:
    """`@dp.table` / `@dp.table(name=..., ...)`: streaming table or materialized view by query."""
    import pyspark.pipelines as dp

    def outer(func: Any) -> None:
        original = _ORIGINAL.get("table", dp.table)
        name = options.get("name") or getattr(func, "__name__", None)
        if _is_batch(func, name):
            dp.materialized_view(func, **options) if options else dp.materialized_view(func)
        elif options:
            original(**options)(func)
        else:
            original(func)

    if query_function is not None:
        outer(query_function)
        return None
    return outer


def _is_batch(func: Any, name: str | None) -> bool:
    """Whether the query function's DataFrame is a batch plan (no streaming read in it)."""
    try:
        from pyspark.pipelines.add_pipeline_analysis_context import (
            add_pipeline_analysis_context,
        )
        from pyspark.pipelines.graph_element_registry import get_active_graph_element_registry

        registry: Any = get_active_graph_element_registry()
        with add_pipeline_analysis_context(
            spark=registry._spark,
            dataflow_graph_id=registry._dataflow_graph_id,
            flow_name=name,
        ):
            df = func()
        relation = df._plan.plan(registry._client)
    except Exception:  # pyspark's own table() says what is wrong
        return False
    return "is_streaming: true" not in str(relation)
