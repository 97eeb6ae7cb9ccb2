"""A named warehouse on a real PostgreSQL (one fresh schema per test), by SQLAlchemy URL."""

from __future__ import annotations

from pathlib import Path

import pytest

from headrace.warehouse import WarehouseError, execute
from pg_support import PG_URL, admin, with_search_path


@pytest.fixture
def pg(home: Path, pg_schema: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Warehouse id `pg`: the test's schema, configured by environment."""
    monkeypatch.setenv("HEADRACE_WAREHOUSE_PG_URL", with_search_path(PG_URL, pg_schema))
    return "pg"


def test_statements_parameters_and_preview_on_postgresql(pg: str) -> None:
    result = execute(
        """
        CREATE TABLE sales (day date, amount numeric(8, 2), note text);
        INSERT INTO sales VALUES ('2026-11-23', 10.5, 'a:b'), ('2026-11-24', 4, ':x');
        UPDATE sales SET amount = amount * 2 WHERE day = :day;
        SELECT day::text AS day, amount, note, ':not_a_param' AS s FROM sales ORDER BY day;
        """,
        pg,
        {"day": "2026-11-23"},
    )
    kinds = [(s.statement_type, s.rows_affected) for s in result.statements]
    assert kinds == [("CREATE", None), ("INSERT", 2), ("UPDATE", 1), ("SELECT", None)]
    assert result.columns == ["day", "amount", "note", "s"]
    assert result.rows == [
        ["2026-11-23", "21.00", "a:b", ":not_a_param"],
        ["2026-11-24", "4.00", ":x", ":not_a_param"],
    ]
    assert result.to_output()["query_output"]["warehouse_id"] == "pg"


def test_dollar_quoted_bodies_keep_their_semicolons(pg: str) -> None:
    result = execute(
        """
        CREATE FUNCTION twice(x int) RETURNS int AS $$
        BEGIN
            RETURN x * 2;  -- a semicolon inside the body
        END;
        $$ LANGUAGE plpgsql;
        SELECT twice(:n::int) AS t;
        """,
        pg,
        {"n": "21"},
    )
    assert len(result.statements) == 2
    assert result.rows == [[42]]


def test_parameters_are_bound_never_pasted_on_postgresql(pg: str) -> None:
    evil = "'); DROP TABLE notes; --"
    execute("CREATE TABLE notes (body text); INSERT INTO notes VALUES (:body)", pg, {"body": evil})
    assert execute("SELECT body FROM notes", pg).rows == [[evil]]


def test_a_failing_statement_rolls_back_and_is_named(pg: str) -> None:
    with pytest.raises(WarehouseError) as caught:
        execute("CREATE TABLE half (a int); INSERT INTO half VALUES (1); SELECT * FROM nope", pg)
    message = str(caught.value)
    assert message.startswith('relation "nope" does not exist')
    assert message.endswith("in statement 3 of 3: SELECT * FROM nope")
    with pytest.raises(WarehouseError, match='relation "half" does not exist'):
        execute("SELECT * FROM half", pg)


def test_sql_with_its_own_transactions_runs_in_autocommit(pg: str) -> None:
    with pytest.raises(WarehouseError, match="nope"):
        execute("BEGIN; CREATE TABLE kept (a int); COMMIT; SELECT * FROM nope", pg)
    assert execute("SELECT count(*) FROM kept", pg).rows == [[0]]


def test_a_missing_parameter_is_named_before_connecting(home: Path, monkeypatch) -> None:
    monkeypatch.setenv("HEADRACE_WAREHOUSE_PG_URL", "postgresql://nobody@127.0.0.1:1/none")
    with pytest.raises(WarehouseError, match="uses parameter :day but the task does not give"):
        execute("SELECT :day", "pg")


def test_an_unreachable_warehouse_says_which_and_hides_the_password(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEADRACE_WAREHOUSE_GONE_URL", "postgresql://me:s3cret@127.0.0.1:1/db")
    with pytest.raises(WarehouseError) as caught:
        execute("SELECT 1", "gone")
    message = str(caught.value)
    assert message.startswith("cannot connect to warehouse 'gone' (postgresql+psycopg://me:***@")
    assert "s3cret" not in message


def test_the_warehouses_file_configures_named_warehouses(
    home: Path, pg_schema: str, tmp_path: Path
) -> None:
    admin(f'CREATE TABLE "{pg_schema}".marker (a int)')
    (home / "warehouses.yml").write_text(
        "warehouses:\n"
        f"  analytics:\n    url: '{with_search_path(PG_URL, pg_schema)}'\n"
        f"  scratch:\n    url: 'duckdb:///{tmp_path}/scratch.duckdb'\n"
        f"  lite:\n    url: 'sqlite:///{tmp_path}/lite.db'\n"
    )
    assert execute("SELECT count(*) FROM marker", "analytics").rows == [[0]]
    execute("CREATE TABLE s AS SELECT 1 AS a", "scratch")
    assert (tmp_path / "scratch.duckdb").is_file()
    result = execute(
        "CREATE TABLE l (a INT); INSERT INTO l VALUES (:v); SELECT a FROM l", "lite", {"v": "7"}
    )
    assert result.rows == [[7]]  # the INT column turned the bound text into a number
