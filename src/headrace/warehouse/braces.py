"""Databricks SQL's `{{name}}` parameters: the value put into the SQL text before it runs.

Databricks substitutes `{{name}}` in a SQL file or saved query (its legacy query parameter
syntax, which its bundle templates use: ``USE CATALOG `{{catalog}}`; USE IDENTIFIER({{schema}})``)
as a text parameter: written bare, the value becomes a string literal (quotes added, quotes
inside it escaped); written inside a quoted string or a backquoted name, the value is put in as
text (its quote character doubled, so it cannot end the quoting). Headrace does the same, then
binds the `:name` markers as values. `{{name}}` inside a comment is left alone. Only plain names
are parameters; `{{job.run_id}}`-style dynamic references (with a dot) were resolved by the
engine before the task started and never reach here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping

from headrace.warehouse.errors import WarehouseError

PATTERN = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_QUOTES = "'\"`"


def _spans(sql: str, backslash_escapes: bool = False) -> Iterator[tuple[int, int, str]]:
    """(start, end, context) pieces of `sql`: context is "" (code), a quote character, "$$"
    (a dollar-quoted string) or "comment". With `backslash_escapes` (Spark SQL, MySQL) a
    backslash inside quotes escapes the next character, as those databases read it."""
    i, n, start = 0, len(sql), 0
    while i < n:
        ch = sql[i]
        end = -1
        kind = ""
        if sql.startswith("$$", i):
            kind = "$$"
            j = sql.find("$$", i + 2)
            end = n if j < 0 else j + 2
        elif ch in _QUOTES:
            kind, j = ch, i + 1
            escapes = (backslash_escapes and ch != "`") or _e_string(sql, i)
            while j < n:
                if escapes and sql[j] == "\\":
                    j += 2
                    continue
                if sql[j] == ch:
                    if j + 1 < n and sql[j + 1] == ch:  # a doubled quote stays inside
                        j += 2
                        continue
                    break
                j += 1
            end = min(j + 1, n)
        elif sql.startswith("--", i):
            kind = "comment"
            j = sql.find("\n", i)
            end = n if j < 0 else j
        elif sql.startswith("/*", i):
            kind = "comment"
            j = sql.find("*/", i + 2)
            end = n if j < 0 else j + 2
        if end < 0:
            i += 1
            continue
        if start < i:
            yield start, i, ""
        yield i, end, kind
        start = i = end
    if start < n:
        yield start, n, ""


def _e_string(sql: str, i: int) -> bool:
    """True for the quote of a PostgreSQL/DuckDB escape string (E'...'): backslashes escape."""
    return (
        sql[i] == "'"
        and i > 0
        and sql[i - 1] in "eE"
        and (i == 1 or not (sql[i - 2].isalnum() or sql[i - 2] == "_"))
    )


def names(sql: str) -> list[str]:
    """The `{{name}}` parameters `sql` uses (outside comments), in order of first use."""
    found: dict[str, None] = {}
    for start, end, kind in _spans(sql):
        if kind != "comment":
            found.update((m.group(1), None) for m in PATTERN.finditer(sql, start, end))
    return list(found)


def substitute(sql: str, parameters: Mapping[str, str], *, backslash_escapes: bool = False) -> str:
    """`sql` with each `{{name}}` replaced by its parameter, as Databricks does.

    `backslash_escapes`: the database reads a backslash in a string as an escape (Spark SQL,
    MySQL), so backslashes in values are doubled too; a value can never end its quoting.

    Raises:
        WarehouseError: naming every `{{name}}` no parameter gives (nothing has run), or a
            value that cannot be put safely where it is written (`$$` inside `$$...$$`).
    """
    if "{{" not in sql:
        return sql
    missing = [n for n in names(sql) if n not in parameters]
    if missing:
        given = ", ".join(sorted(parameters)) or "none"
        listed = ", ".join("{{" + n + "}}" for n in missing)
        raise WarehouseError(
            f"the SQL uses {listed} but the task does not give "
            f"{'them' if len(missing) != 1 else 'it'} (given: {given}); "
            "add it to sql_task.parameters or the job's parameters"
        )

    def text(name: str, quote: str, escapes: bool) -> str:
        value = str(parameters[name])
        if quote == "$$":  # nothing escapes inside a dollar-quoted string
            if "$$" in value:
                raise WarehouseError(
                    f"parameter {name!r}: its value holds '$$', which would end the"
                    " dollar-quoted string {{" + name + "}} is written in"
                )
            return value
        if escapes and quote != "`":
            # Backslash-escaped, never a doubled quote: Spark reads '' as two literals, and a
            # statement splitter must see the same string end as the database does.
            return value.replace("\\", "\\\\").replace(quote, "\\" + quote)
        return value.replace(quote, quote + quote)

    out = []
    for start, end, kind in _spans(sql, backslash_escapes):
        piece = sql[start:end]
        if kind == "comment" or "{{" not in piece:
            out.append(piece)
        elif kind:  # inside quotes: the text, unable to end the quoting
            escapes = (backslash_escapes and kind != "`") or _e_string(sql, start)
            out.append(PATTERN.sub(lambda m, q=kind, e=escapes: text(m.group(1), q, e), piece))
        else:  # bare: a string literal
            out.append(
                PATTERN.sub(lambda m: "'" + text(m.group(1), "'", backslash_escapes) + "'", piece)
            )
    return "".join(out)
