"""Named parameter markers (`:name`, as in Databricks SQL) found outside strings and comments.

sqlparse's lexer tells a marker from a `::` cast, a `':x'` string, a `-- :x` comment or a
`$$ :x $$` body, so the SQL is never formatted with values: markers are rewritten into each
database's own binding syntax and the values travel separately.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlparse import tokens
from sqlparse.lexer import Lexer

_NAME = re.compile(r":([A-Za-z_]\w*)")


@dataclass(frozen=True)
class MarkedSql:
    """SQL with its `:name` markers rewritten for one database, and the names it uses."""

    text: str
    names: tuple[str, ...]


def for_duckdb(sql: str) -> MarkedSql:
    """`:name` -> `$name` (DuckDB's named parameters); same length, so offsets are kept."""
    return _rewrite(sql, marker="$", other_colon=":")


def for_sqlalchemy(sql: str) -> MarkedSql:
    """`:name` stays a bind parameter; every other colon is escaped for `sqlalchemy.text`."""
    return _rewrite(sql, marker=":", other_colon="\\:")


def statement_text(sql: str) -> str:
    """The statement itself: without the comments and whitespace a splitter left before it."""
    skipped = 0
    for ttype, value in Lexer.get_default_instance().get_tokens(sql):
        if (
            ttype not in tokens.Comment
            and ttype not in tokens.Whitespace
            and ttype not in tokens.Newline
            and not value.isspace()
        ):
            break
        skipped += len(value)
    return sql[skipped:].strip()


def _rewrite(sql: str, *, marker: str, other_colon: str) -> MarkedSql:
    parts: list[str] = []
    names: dict[str, None] = {}  # ordered set
    for ttype, value in Lexer.get_default_instance().get_tokens(sql):
        match = _NAME.fullmatch(value) if ttype in tokens.Name.Placeholder else None
        if match is not None:
            names[match.group(1)] = None
            parts.append(marker + match.group(1))
        else:
            parts.append(value.replace(":", other_colon) if other_colon != ":" else value)
    return MarkedSql("".join(parts), tuple(names))
