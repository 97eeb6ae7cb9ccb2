"""Databricks source notebooks (`.py`, `.sql`) as a list of cells. Pure: text in, cells out.

A source notebook starts with `# Databricks notebook source` (`-- ...` in `.sql`), separates
cells with `# COMMAND ----------` and writes other languages as `# MAGIC %sql ...` lines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PY_HEADER = "# Databricks notebook source"
SQL_HEADER = "-- Databricks notebook source"
_COMMENT = {".py": "#", ".sql": "--"}
_MAGIC_FIRST = re.compile(r"^%(\S+)(.*)$")


@dataclass(frozen=True)
class Cell:
    """One cell: `markdown` or `code` (code may start with a Databricks magic line)."""

    kind: str
    source: str
    title: str | None = None


def is_source_notebook(text: str, suffix: str) -> bool:
    """True when the text starts with the Databricks header for its file type."""
    comment = _COMMENT.get(suffix)
    if comment is None:
        return False
    first = text.lstrip("\ufeff").split("\n", 1)[0].strip()
    return first == f"{comment} Databricks notebook source"


def parse(text: str, suffix: str) -> list[Cell]:
    """The cells of a source notebook (`suffix` `.py` or `.sql`); plain files are one cell each
    line-block: a `.py` without the header is one Python cell, a `.sql` one SQL cell."""
    comment = _COMMENT[suffix]
    text = text.lstrip("\ufeff").replace("\r\n", "\n")
    lines = text.split("\n")
    if lines and lines[0].strip() == f"{comment} Databricks notebook source":
        lines = lines[1:]
    separator = f"{comment} COMMAND ----------"
    chunks: list[list[str]] = [[]]
    for line in lines:
        if line.strip() == separator:
            chunks.append([])
        else:
            chunks[-1].append(line)
    cells = [_cell(chunk, comment, suffix) for chunk in chunks]
    return [c for c in cells if c is not None]


def _strip_blank(lines: list[str]) -> list[str]:
    while lines and not lines[0].strip():
        lines = lines[1:]
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    return lines


def _cell(chunk: list[str], comment: str, suffix: str) -> Cell | None:
    lines = _strip_blank(chunk)
    title = None
    if lines and lines[0].startswith(f"{comment} DBTITLE "):
        # `# DBTITLE 1,Load the data`: the cell's title, not code.
        title = lines[0].split(",", 1)[1].strip() if "," in lines[0] else None
        lines = _strip_blank(lines[1:])
    if not lines:
        return None
    magic = f"{comment} MAGIC"
    if all(line.startswith(magic) for line in lines):
        body = [line[len(magic) + 1 :] if line.startswith(magic + " ") else "" for line in lines]
        return _magic_cell(body, title)
    source = "\n".join(lines)
    if suffix == ".sql":
        return Cell("code", "%sql\n" + source, title)
    return Cell("code", source, title)


def _magic_cell(body: list[str], title: str | None) -> Cell:
    first = _MAGIC_FIRST.match(body[0].strip()) if body else None
    if first and first.group(1) in ("md", "md-sandbox"):
        rest = [first.group(2).strip()] if first.group(2).strip() else []
        return Cell("markdown", "\n".join(_strip_blank(rest + body[1:])), title)
    if first and first.group(1) == "python":
        return Cell("code", "\n".join(_strip_blank(body[1:])), title)
    return Cell("code", "\n".join(body), title)
