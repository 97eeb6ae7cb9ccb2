"""`display` and `displayHTML`, as in a Databricks notebook (plain printing outside one)."""

from __future__ import annotations

import sys
from typing import Any


def _in_kernel() -> bool:
    ipython = sys.modules.get("IPython")
    return ipython is not None and ipython.get_ipython() is not None


def display(*objects: Any, **kwargs: Any) -> None:
    """Show objects as rich output: tables for SQL results and DataFrames, HTML, images."""
    objects = tuple(_spark_rows(obj) for obj in objects)  # a Spark DataFrame: its first rows
    if not _in_kernel():
        for obj in objects:
            preview = getattr(obj, "preview_text", None)
            print(preview() if callable(preview) else obj)
        return
    from IPython.display import display as ipython_display

    for obj in objects:
        html = getattr(obj, "preview_html", None)
        if callable(html) and not hasattr(obj, "_repr_html_"):
            text = obj.preview_text()
            ipython_display({"text/html": html(), "text/plain": text}, raw=True)
        elif isinstance(obj, list) and obj and all(isinstance(r, dict) for r in obj):
            ipython_display({"text/html": _rows_html(obj), "text/plain": _rows_text(obj)}, raw=True)
        else:
            ipython_display(obj, **kwargs)


# Rows of a Spark DataFrame shown by display(), as Databricks shows the first 1000 or so.
SPARK_DISPLAY_ROWS = 1000


def _spark_rows(obj: Any) -> Any:
    """A Spark DataFrame (classic or Connect) as a list of row dicts; anything else as is."""
    kind = type(obj)
    if not (kind.__module__ or "").startswith("pyspark.sql") or kind.__name__ != "DataFrame":
        return obj
    rows = [row.asDict(recursive=True) for row in obj.limit(SPARK_DISPLAY_ROWS).collect()]
    return _Table(list(obj.columns), rows)


class _Table:
    """Rows with known columns (an empty result keeps its header)."""

    def __init__(self, columns: list[str], rows: list[dict[str, Any]]) -> None:
        self.columns, self.rows = columns, rows

    def _padded(self) -> list[dict[str, Any]]:
        return self.rows or [dict.fromkeys(self.columns, "")]

    def preview_text(self) -> str:
        text = _rows_text(self._padded())
        return text if self.rows else text.splitlines()[0]

    def preview_html(self) -> str:
        html = _rows_html(self._padded())
        return html if self.rows else html.split("<tbody>")[0] + "<tbody></tbody></table>"


def displayHTML(html: str) -> None:
    """Show an HTML fragment."""
    if not _in_kernel():
        print(html)
        return
    from IPython.display import display as ipython_display

    ipython_display({"text/html": html}, raw=True)


def _columns(rows: list[dict[str, Any]]) -> list[str]:
    columns: list[str] = []
    for row in rows:
        columns += [c for c in row if c not in columns]
    return columns


def _rows_text(rows: list[dict[str, Any]]) -> str:
    columns = _columns(rows)
    lines = [" | ".join(str(c) for c in columns)]
    lines += [" | ".join(str(r.get(c, "")) for c in columns) for r in rows]
    return "\n".join(lines)


def _rows_html(rows: list[dict[str, Any]]) -> str:
    from html import escape

    columns = _columns(rows)
    head = "".join(f"<th>{escape(str(c))}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(str(r.get(c, '')))}</td>" for c in columns) + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
