"""Running SQL on Spark (Spark Connect): the catalog notebooks and Spark tasks use.

A warehouse whose URL is `spark://` runs its SQL on the data directory's warm Spark Connect
server (`headrace.compute.warm`, started if needed), `sc://HOST:PORT` on that Spark Connect
server. Either way the tables are the data directory's shared catalog
(`headrace.compute.catalog`): `main.schema.table`, `USE CATALOG`, `USE SCHEMA`.

Spark has no transactions: statements run one after the other and a failing one stops the
rest (earlier ones stay done). `:name` markers are Spark SQL's own named parameters.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from headrace.runtime.spark import delta_hint
from headrace.warehouse.errors import WarehouseError
from headrace.warehouse.markers import for_duckdb
from headrace.warehouse.parameters import check_given
from headrace.warehouse.result import MAX_PREVIEW_ROWS, PreviewCollector, SqlResult, StatementResult

SPARK_SCHEME = "spark://"
CONNECT_SCHEME = "sc://"


def is_spark_url(url: str | None) -> bool:
    return bool(url) and (str(url).startswith((SPARK_SCHEME, CONNECT_SCHEME)))


def execute(
    sql: str, url: str, parameters: Mapping[str, str], warehouse_id: str, *, home: Path
) -> SqlResult:
    """Run `sql`'s statements in order on the Spark Connect server `url` names."""
    from headrace.warehouse.sqlalchemy_backend import split

    statements = split(sql)
    names = [list(for_duckdb(text).names) for text, _ in statements]
    check_given(list(dict.fromkeys(n for group in names for n in group)), parameters)
    session = _session(url, warehouse_id, home)
    try:
        done: list[StatementResult] = []
        preview: PreviewCollector | None = None
        for i, ((text, kind), used) in enumerate(zip(statements, names, strict=True)):
            args = {n: parameters[n] for n in used}
            try:
                frame = session.sql(text, args=args) if args else session.sql(text)
                collected = _preview(frame)
            except Exception as exc:  # pyspark's errors: AnalysisException, ParseException, ...
                raise WarehouseError(
                    spark_message(exc), statement=text, index=i, count=len(statements)
                ) from None
            done.append(StatementResult(text, kind, None))
            preview = collected if collected is not None else preview
        return SqlResult.of(warehouse_id, sql, done, preview)
    finally:
        session.stop()


def _preview(frame: Any) -> PreviewCollector | None:
    columns = list(frame.columns)
    if not columns:
        return None
    preview = PreviewCollector(columns)
    for row in frame.limit(MAX_PREVIEW_ROWS + 1).collect():
        if not preview.add(tuple(row)):
            break
    return preview


def _remote(url: str, warehouse_id: str, home: Path) -> str:
    if url.startswith(CONNECT_SCHEME):
        return url
    rest = url[len(SPARK_SCHEME) :].strip("/")
    if rest not in ("", "warm"):
        raise WarehouseError(
            f"warehouse {warehouse_id!r}: url {url!r}: use 'spark://' (the data directory's "
            "warm Spark server) or 'sc://HOST:PORT' (a Spark Connect server)"
        )
    try:
        from headrace.compute.warm import ensure_warm, take_lease
    except ImportError as exc:
        raise WarehouseError(
            f"warehouse {warehouse_id!r} runs on Spark, which is not installed here: "
            f"pip install 'headrace[spark]' ({exc})"
        ) from None
    from headrace.compute.catalog import ensure_metastore
    from headrace.errors import HeadraceError

    try:
        take_lease(home, os.getpid())  # the warm server stays while this process uses it
        address = ensure_warm(home)
        ensure_metastore(home)  # restarted (on its old port) if it stopped meanwhile
        return address.remote
    except HeadraceError as exc:
        raise WarehouseError(f"warehouse {warehouse_id!r}: Spark did not start: {exc}") from None


def _session(url: str, warehouse_id: str, home: Path) -> Any:
    remote = _remote(url, warehouse_id, home)
    try:
        with warnings.catch_warnings():
            # pyspark warns on import when pandas is 3.x: not the task's concern
            warnings.filterwarnings("ignore", message="PySpark does not yet fully support")
            from pyspark.sql import SparkSession

            return SparkSession.builder.remote(remote).create()
    except ImportError as exc:
        raise WarehouseError(
            f"warehouse {warehouse_id!r} runs on Spark: pip install 'headrace[spark]' ({exc})"
        ) from None
    except Exception as exc:
        raise WarehouseError(
            f"cannot connect to warehouse {warehouse_id!r} ({remote}): {spark_message(exc)}"
        ) from None


def spark_message(exc: BaseException) -> str:
    """Spark's message for an error: its first line and SQLSTATE, no plan, no JVM stack."""
    text = str(exc)
    for marker in ("\nJVM stacktrace:", "\n\nJVM stacktrace"):
        text = text.split(marker, 1)[0]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    first = lines[0] if lines else type(exc).__name__
    hint = delta_hint(first)
    if hint:
        return hint
    if "SQLSTATE" not in first:
        state = next((line for line in lines if line.startswith("SQLSTATE")), None)
        first = f"{first} {state}" if state else first
    return first.rstrip(";")
