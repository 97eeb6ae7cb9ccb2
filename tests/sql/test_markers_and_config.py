"""Parameter markers and warehouse configuration: pure functions, no database."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from headrace.warehouse.config import env_name, resolve
from headrace.warehouse.errors import WarehouseError
from headrace.warehouse.markers import for_duckdb, for_sqlalchemy, statement_text
from headrace.warehouse.sqlalchemy_backend import split


def test_markers_outside_strings_and_comments_are_found_in_order() -> None:
    sql = "SELECT ':a', \"b:c\", x::int, :day, $$ :body $$ -- :d\n/* :e */ FROM t WHERE n = :n OR m = :day"
    duck = for_duckdb(sql)
    assert duck.names == ("day", "n")
    assert duck.text == sql.replace(":day", "$day").replace(":n", "$n")
    alchemy = for_sqlalchemy(sql)
    assert alchemy.names == ("day", "n")
    assert ":day" in alchemy.text and "x\\:\\:int" in alchemy.text and "'\\:a'" in alchemy.text


@given(st.text(alphabet="SELCT abc:;'\"$-*/\n_12", max_size=60))
def test_duckdb_rewriting_keeps_every_offset(sql: str) -> None:
    marked = for_duckdb(sql)
    assert len(marked.text) == len(sql)
    assert [i for i, (a, b) in enumerate(zip(sql, marked.text, strict=True)) if a != b] == [
        i for i, c in enumerate(marked.text) if c == "$" and sql[i] == ":"
    ]


@given(st.text(max_size=80))
def test_sql_without_colons_is_unchanged(sql: str) -> None:
    sql = sql.replace(":", "")
    assert for_duckdb(sql).text == sql
    assert for_sqlalchemy(sql).text == sql


@pytest.mark.parametrize(
    ("warehouse_id", "expected"),
    [
        ("analytics", "HEADRACE_WAREHOUSE_ANALYTICS_URL"),
        ("sales-eu.prod", "HEADRACE_WAREHOUSE_SALES_EU_PROD_URL"),
    ],
)
def test_env_names(warehouse_id: str, expected: str) -> None:
    assert env_name(warehouse_id) == expected


def test_the_default_warehouse_is_a_duckdb_file_in_the_home(home: Path) -> None:
    for wid in (None, "", "default"):
        warehouse = resolve(wid)
        assert warehouse.warehouse_id == "default"
        assert warehouse.duckdb_path == home / "warehouse" / "default.duckdb"


def test_environment_wins_over_the_file_and_postgresql_uses_psycopg(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (home / "warehouses.yml").write_text("warehouses:\n  a: {url: 'sqlite:///from-file.db'}\n")
    assert resolve("a").url == "sqlite:///from-file.db"
    monkeypatch.setenv("HEADRACE_WAREHOUSE_A_URL", "postgresql://u@h/db")
    assert resolve("a").url == "postgresql+psycopg://u@h/db"


def test_the_file_can_move_the_default_and_expand_variables(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PGPASSWORD_FOR_TEST", "pw")
    other = tmp_path / "elsewhere.yml"
    other.write_text(
        "warehouses:\n"
        "  default: {url: 'duckdb:///~/lake.duckdb'}\n"
        "  pg: {url: 'postgresql://me:${PGPASSWORD_FOR_TEST}@db/x'}\n"
    )
    monkeypatch.setenv("HEADRACE_WAREHOUSES", str(other))
    assert resolve(None).duckdb_path == Path("~/lake.duckdb").expanduser()
    assert resolve("pg").url == "postgresql+psycopg://me:pw@db/x"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("warehouses: [1, 2]", "expected a mapping 'warehouses: {ID: {url: ...}}'"),
        ("warehouses: {x: {uri: 'a'}}", "warehouses.x.url must be a non-empty string"),
        ("warehouses: {x: [", "is not valid YAML"),
    ],
)
def test_a_bad_warehouses_file_is_a_clear_error(home: Path, text: str, message: str) -> None:
    (home / "warehouses.yml").write_text(text)
    with pytest.raises(WarehouseError) as caught:
        resolve("x")
    assert str(caught.value).startswith(str(home / "warehouses.yml"))
    assert message in str(caught.value)


def test_an_unknown_warehouse_says_where_to_configure_it(home: Path) -> None:
    with pytest.raises(WarehouseError) as caught:
        resolve("lake")
    assert str(caught.value) == (
        "no warehouse named 'lake': configure its SQLAlchemy URL in HEADRACE_WAREHOUSE_LAKE_URL "
        f"or under 'warehouses: {{lake: {{url: ...}}}}' in {home / 'warehouses.yml'} "
        "(omit warehouse_id, or use 'default', for the embedded DuckDB warehouse)"
    )


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (
            "  -- a comment; with a semicolon\n  INSERT INTO t VALUES (1);",
            "INSERT INTO t VALUES (1);",
        ),
        ("/* block */\n-- line\nSELECT 1 -- tail", "SELECT 1 -- tail"),
        ("SELECT ':x' -- not a marker", "SELECT ':x' -- not a marker"),
        ("-- only a comment\n", ""),
    ],
)
def test_statement_text_drops_the_comments_and_whitespace_before_it(raw: str, text: str) -> None:
    assert statement_text(raw) == text


def test_sqlalchemy_split_records_statements_without_leading_comments() -> None:
    statements = split("CREATE TABLE t (a INT); -- c; d\n  /* e */ INSERT INTO t VALUES (1);")
    assert [kind for _, kind in statements] == ["CREATE", "INSERT"]
    assert statements[1][0] == "INSERT INTO t VALUES (1);"
