"""Helpers: write notebooks (Databricks source and .ipynb), read an attempt's files."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

from support import Headrace

SEPARATOR = "\n# COMMAND ----------\n"


def source_notebook(hr: Headrace, name: str, *cells: str) -> Path:
    """A Databricks source `.py` notebook with these cells (dedented)."""
    body = SEPARATOR.join(textwrap.dedent(c).strip() + "\n" for c in cells)
    path = hr.dir / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("# Databricks notebook source\n" + body)
    return path


def ipynb(hr: Headrace, name: str, *cells: str | tuple[str, list[str]]) -> Path:
    """A Jupyter notebook of code cells; a (source, tags) tuple tags a cell."""
    out = []
    for i, cell in enumerate(cells):
        source, tags = (cell, []) if isinstance(cell, str) else cell
        out.append(
            {
                "cell_type": "code",
                "id": f"c{i}",
                "metadata": {"tags": tags},
                "source": textwrap.dedent(source).strip(),
                "outputs": [],
                "execution_count": None,
            }
        )
    nb = {
        "cells": out,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path = hr.dir / name
    path.write_text(json.dumps(nb))
    return path


def task(run: dict[str, Any], key: str) -> dict[str, Any]:
    return next(t for t in run["tasks"] if t["task_key"] == key)


def attempt_dir(run: dict[str, Any], key: str) -> Path:
    return Path(task(run, key)["attempts"][-1]["log_path"]).parent


def output(run: dict[str, Any], key: str) -> dict[str, Any]:
    """What the task reported (the attempt's output.json: notebook_output, ...)."""
    path = attempt_dir(run, key) / "output.json"
    return json.loads(path.read_text()) if path.exists() else {}


def log(run: dict[str, Any], key: str) -> str:
    return (attempt_dir(run, key) / "output.log").read_text()


def executed(run: dict[str, Any], key: str) -> dict[str, Any]:
    return json.loads((attempt_dir(run, key) / "notebook.ipynb").read_text())


def cell_text(cell: dict[str, Any]) -> str:
    """Every text a cell's outputs show (streams, text/plain, errors)."""
    parts = []
    for out in cell.get("outputs", []):
        if out["output_type"] == "stream":
            parts.append("".join(out["text"]) if isinstance(out["text"], list) else out["text"])
        elif out["output_type"] in ("execute_result", "display_data"):
            for kind in ("text/plain", "text/html"):
                value = out["data"].get(kind)
                if value:
                    parts.append("".join(value) if isinstance(value, list) else value)
        elif out["output_type"] == "error":
            parts.append(f"{out['ename']}: {out['evalue']}")
    return "\n".join(parts)
