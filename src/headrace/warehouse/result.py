"""What running SQL produced: per-statement records and a small preview of the last result."""

from __future__ import annotations

import html
import json
import math
from dataclasses import dataclass, field
from typing import Any

# The preview is for eyes, not for moving data: a few rows, a few bytes, short cells.
MAX_PREVIEW_ROWS = 100
MAX_PREVIEW_BYTES = 64 * 1024
MAX_CELL_CHARS = 1000
# Statement texts and the query text kept in the run output.
MAX_STATEMENT_CHARS = 4000
MAX_QUERY_TEXT_CHARS = 16 * 1024

Cell = str | int | float | bool | None


@dataclass(frozen=True)
class StatementResult:
    """One executed statement: its text, its kind and the rows it changed (None if unknown)."""

    text: str
    statement_type: str | None = None
    rows_affected: int | None = None


@dataclass(frozen=True)
class SqlResult:
    """Statements executed and a preview (at most MAX_PREVIEW_ROWS) of the last result set."""

    warehouse_id: str
    query_text: str
    statements: list[StatementResult] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    rows: list[list[Cell]] = field(default_factory=list)
    truncated: bool = False

    @classmethod
    def of(
        cls,
        warehouse_id: str,
        query_text: str,
        statements: list[StatementResult],
        preview: PreviewCollector | None,
    ) -> SqlResult:
        """The result of executed statements, previewing the last result set collected."""
        return cls(
            warehouse_id,
            query_text,
            statements,
            columns=preview.columns if preview else [],
            rows=preview.rows if preview else [],
            truncated=preview.truncated if preview else False,
        )

    @property
    def has_result_set(self) -> bool:
        """True when some statement returned rows (even zero of them)."""
        return bool(self.columns)

    def preview_text(self) -> str:
        """The preview as a plain-text table ("(no result set)" when nothing returned rows)."""
        if not self.has_result_set:
            return "(no result set)"
        cells = [[_text(c) for c in row] for row in self.rows]
        widths = [len(name) for name in self.columns]
        for row in cells:
            widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
        lines = [
            " | ".join(n.ljust(w) for n, w in zip(self.columns, widths, strict=True)),
            "-+-".join("-" * w for w in widths),
        ]
        lines += [" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
        lines.append(self._row_note())
        return "\n".join(line.rstrip() for line in lines)

    def preview_html(self) -> str:
        """The preview as an HTML table, every value escaped."""
        if not self.has_result_set:
            return "<p>(no result set)</p>"
        head = "".join(f"<th>{html.escape(n)}</th>" for n in self.columns)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(_text(c))}</td>" for c in row) + "</tr>"
            for row in self.rows
        )
        note = html.escape(self._row_note())
        return (
            f'<table class="headrace-sql"><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table><p>{note}</p>"
        )

    def summary(self) -> str:
        """One line per statement: its kind and the rows it changed."""
        lines = []
        for i, st in enumerate(self.statements):
            kind = st.statement_type or "statement"
            changed = "" if st.rows_affected is None else f", {st.rows_affected} rows affected"
            lines.append(f"[{i + 1}/{len(self.statements)}] {kind}{changed}")
        return "\n".join(lines)

    def to_output(self) -> dict[str, Any]:
        """get-output's `sql_output`: Databricks' `query_output` fields plus Headrace's preview."""
        text = self.query_text
        statements = [
            {
                "lookup_key": str(i),  # Databricks' only SqlStatementOutput field
                "statement": _clip(st.text, MAX_STATEMENT_CHARS),
                "statement_type": st.statement_type,
                "rows_affected": st.rows_affected,
            }
            for i, st in enumerate(self.statements)
        ]
        query_output: dict[str, Any] = {
            "warehouse_id": self.warehouse_id,
            "query_text": _clip(text, MAX_QUERY_TEXT_CHARS),
            "sql_statements": statements,
            "statements_executed": len(self.statements),
            "rows_affected": _total_rows(self.statements),
        }
        if self.has_result_set:
            query_output["result"] = {
                "columns": list(self.columns),
                "rows": [list(r) for r in self.rows],
                "row_count": len(self.rows),
                "truncated": self.truncated,
            }
        return {"query_output": query_output}

    def _row_note(self) -> str:
        n = len(self.rows)
        note = f"({n} row{'s' if n != 1 else ''}"
        return note + (", truncated: more rows exist)" if self.truncated else ")")


def _total_rows(statements: list[StatementResult]) -> int | None:
    counts = [st.rows_affected for st in statements if st.rows_affected is not None]
    return sum(counts) if counts else None


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + " ..."


def _text(cell: Cell) -> str:
    return "NULL" if cell is None else str(cell)


def to_cell(value: Any) -> Cell:
    """A database value as a JSON-safe preview cell (long or exotic values become text)."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        text = "0x" + bytes(value).hex()
    elif isinstance(value, dict | list | tuple):
        text = json.dumps(value, default=str)
    else:
        text = str(value)
    return _clip(text, MAX_CELL_CHARS)


class PreviewCollector:
    """Keeps the first rows of a result set within the preview's row and byte budgets."""

    def __init__(self, columns: list[str]) -> None:
        self.columns = columns
        self.rows: list[list[Cell]] = []
        self.truncated = False
        self._bytes = len(json.dumps(columns))

    def add(self, row: Any) -> bool:
        """Take one row; False once the preview is full (the row was not taken)."""
        if len(self.rows) >= MAX_PREVIEW_ROWS:
            self.truncated = True
            return False
        cells = [to_cell(v) for v in row]
        size = len(json.dumps(cells))
        if self._bytes + size > MAX_PREVIEW_BYTES:
            self.truncated = True
            return False
        self._bytes += size
        self.rows.append(cells)
        return True
