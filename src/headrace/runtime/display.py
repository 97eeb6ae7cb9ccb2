"""`display` and `displayHTML`, as in a Databricks notebook (plain printing outside one)."""

from __future__ import annotations

import sys
from typing import Any


def _in_kernel() -> bool:
    ipython = sys.modules.get("IPython")
    return ipython is not None and ipython.get_ipython() is not None


def display(*objects: Any, **kwargs: Any) -> None:
    """Show objects as rich output: tables for SQL results and DataFrames, HTML, images."""
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
