"""Catalogs on the embedded DuckDB warehouse: Databricks' `catalog.schema.table` names.

DuckDB has databases where Databricks has catalogs. The warehouse file itself (e.g.
`<home>/warehouse/default.duckdb`) is the main catalog, `main` (`HEADRACE_DEFAULT_CATALOG`
renames it; DuckDB reserves the name `main`, so in DuckDB that catalog keeps the file's name,
`default`). Every other catalog is a DuckDB file `<file>.catalogs/<name>.duckdb` beside it,
attached under its name on each connection, so a catalog made by one task is there for every
later task and run. Before DuckDB parses the SQL it is rewritten (outside strings and comments):

- `CREATE CATALOG [IF NOT EXISTS] c [...]` -> `ATTACH [IF NOT EXISTS] '<folder>/c.duckdb' AS c`
  (the rest of the statement, `MANAGED LOCATION`, `COMMENT`, is dropped);
- `USE CATALOG c` -> `USE c`; `USE SCHEMA s` / `USE DATABASE s` -> `USE s`;
- the main catalog's name in `main.s.t`, `USE main[.s]`, `CREATE|DROP SCHEMA main.s` -> the
  DuckDB name of the warehouse file's catalog;
- Databricks SQL's quoting of names: `` `name` `` -> `"name"`, and `IDENTIFIER('a.b')` (what a
  `{{name}}` parameter becomes, see `braces.py`) -> `"a"."b"`.

A session starts in the main catalog and DuckDB's default schema `main` (which Databricks
calls `default`: unqualified names land where they always did).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from headrace.warehouse.errors import WarehouseError

DEFAULT_CATALOG_ENV = "HEADRACE_DEFAULT_CATALOG"
_NAME = r"(?:`[^`]+`|\"[^\"]+\"|[A-Za-z_]\w*)"
_CREATE = re.compile(rf"\bCREATE\s+CATALOG\s+(IF\s+NOT\s+EXISTS\s+)?({_NAME})[^;]*", re.I)
_USE_CATALOG = re.compile(rf"\bUSE\s+CATALOG\s+({_NAME})", re.I)
_USE_SCHEMA = re.compile(r"\bUSE\s+(?:SCHEMA|DATABASE)\s+", re.I)
_PLACEHOLDER = "\x00{}\x00"


def main_catalog() -> str:
    """Databricks' name of the warehouse file's own catalog: `main` unless renamed."""
    name = os.environ.get(DEFAULT_CATALOG_ENV, "").strip() or "main"
    return name.lower()


def catalogs_dir(database: Path) -> Path:
    """Where a DuckDB warehouse file's other catalogs live."""
    return database.with_name(database.stem + ".catalogs")


def attach_all(con: Any, database: Path) -> None:
    """Attach every catalog made earlier (each `<name>.duckdb` of the catalogs folder)."""
    folder = catalogs_dir(database)
    if not folder.is_dir():
        return
    for path in sorted(folder.glob("*.duckdb")):
        if re.fullmatch(r"[A-Za-z_]\w*", path.stem):
            con.execute(f"ATTACH IF NOT EXISTS '{_quoted(path)}' AS {path.stem}")


def rewrite(sql: str, database: Path) -> str:
    """The SQL with Databricks' catalog statements and names in DuckDB's terms."""
    if not re.search(r"\b(CATALOG|SCHEMA|DATABASE|USE|IDENTIFIER)\b|\.|`", sql, re.I):
        return sql
    code, kept = _mask(sql)
    code = re.sub(
        r"`((?:[^`]|``)*)`", lambda m: _double_quoted(m.group(1).replace("``", "`")), code
    )
    code = re.sub(
        r"\bIDENTIFIER\s*\(\s*(\x00\d+\x00(?:\s*\|\|\s*\x00\d+\x00)*)\s*\)",
        lambda m: _identifier(_joined(m.group(1), kept), database.stem) or m.group(0),
        code,
        flags=re.I,
    )
    # Databricks also takes a string literal as the name in USE [CATALOG|SCHEMA|DATABASE].
    code = re.sub(
        r"\bUSE(\s+(?:CATALOG|SCHEMA|DATABASE)\s+|\s+)\x00(\d+)\x00",
        lambda m: f"USE{m.group(1)}{_identifier(kept[int(m.group(2))], '') or m.group(0)}",
        code,
        flags=re.I,
    )
    duck = '"' + database.stem + '"'  # DuckDB's name of the file's own catalog
    main = re.escape(main_catalog())
    folder = catalogs_dir(database)

    def create(match: re.Match[str]) -> str:
        name = _bare(match.group(2))
        if name.lower() == main_catalog():
            return "SELECT 1 WHERE false" if match.group(1) else f"ATTACH {duck!s}"
        if not re.fullmatch(r"[A-Za-z_]\w*", name):
            raise WarehouseError(f"CREATE CATALOG {name}: a catalog name is letters, digits, _")
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WarehouseError(f"cannot create the catalog folder {folder}: {exc}") from None
        path = _quoted(folder / f"{name.lower()}.duckdb")
        return f"ATTACH {match.group(1) or ''}'{path}' AS {name.lower()}"

    code = _CREATE.sub(create, code)
    code = _USE_CATALOG.sub(
        lambda m: f"USE {duck if _bare(m.group(1)).lower() == main_catalog() else m.group(1)}",
        code,
    )
    code = _USE_SCHEMA.sub("USE ", code)
    # The main catalog as the first of three parts, or where a catalog is expected.
    code = re.sub(
        rf"(?<![\w.\"`])(?:{main}|\"{main}\")(\s*\.\s*{_NAME}\s*\.)", duck + r"\1", code, flags=re.I
    )
    code = re.sub(
        rf"(\b(?:USE|SCHEMA\s+(?:IF\s+(?:NOT\s+)?EXISTS\s+)?)\s*){main}\b(?!\s*\()",
        lambda m: m.group(1) + duck,
        code,
        flags=re.I,
    )
    return _unmask(code, kept)


def _double_quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _joined(placeholders: str, kept: list[str]) -> str:
    """String literals joined by `||` (`'main' || '.' || 's'`) as one literal."""
    parts = [kept[int(n)] for n in re.findall(r"\x00(\d+)\x00", placeholders)]
    if not all(p.startswith("'") and p.endswith("'") and len(p) >= 2 for p in parts):
        return ""
    return "'" + "".join(p[1:-1] for p in parts) + "'"


def _identifier(literal: str, main_file: str) -> str | None:
    """`IDENTIFIER('a.b')`'s name as DuckDB's quoted parts, or None if not a plain literal."""
    if not (literal.startswith("'") and literal.endswith("'") and len(literal) >= 2):
        return None
    text = literal[1:-1].replace("''", "'")
    parts = [p.strip().strip("`") for p in text.split(".")]
    if not all(parts):
        return None
    if main_file and parts[0].lower() == main_catalog() and len(parts) in (2, 3):
        parts[0] = main_file  # DuckDB's name of the main catalog (catalog.schema or 3 parts)
    return ".".join(_double_quoted(p) for p in parts)


def _bare(name: str) -> str:
    return name[1:-1] if name[:1] in '`"' else name


def _quoted(path: Path) -> str:
    return str(path).replace("'", "''")


def _mask(sql: str) -> tuple[str, list[str]]:
    """Strings and comments replaced by placeholders (the rewrite never looks inside them)."""
    from sqlparse import tokens
    from sqlparse.lexer import Lexer

    parts: list[str] = []
    kept: list[str] = []
    for ttype, value in Lexer.get_default_instance().get_tokens(sql):
        # Quoted identifiers ("x", a String.Symbol) stay: they are names, not text.
        if ttype in tokens.String.Single or ttype in tokens.Comment:
            parts.append(_PLACEHOLDER.format(len(kept)))
            kept.append(value)
        else:
            parts.append(value)
    return "".join(parts), kept


def _unmask(code: str, kept: list[str]) -> str:
    return re.sub("\x00(\\d+)\x00", lambda m: kept[int(m.group(1))], code)
