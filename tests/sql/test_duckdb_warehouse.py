"""The embedded DuckDB warehouse through `headrace.warehouse.execute`: real DuckDB files."""

from __future__ import annotations

from pathlib import Path

import pytest
from databricks.sdk.service.jobs import SqlOutput

from headrace.warehouse import SqlResult, WarehouseError, execute
from headrace.warehouse.result import MAX_PREVIEW_ROWS


def test_tables_persist_in_the_home_across_calls(home: Path) -> None:
    execute("CREATE TABLE visits (day DATE, n INT); INSERT INTO visits VALUES ('2026-11-23', 3)")
    assert (home / "warehouse" / "default.duckdb").is_file()
    result = execute("SELECT day, n FROM visits", "default")
    assert (result.columns, result.rows) == (["day", "n"], [["2026-11-23", 3]])


def test_statements_are_recorded_with_kinds_and_rows_affected(home: Path) -> None:
    result = execute(
        """
        CREATE TABLE t (a INT);            -- a comment; with a semicolon
        INSERT INTO t VALUES (1), (2), (3);
        UPDATE t SET a = a * 10 WHERE a > 1;
        DELETE FROM t WHERE a = 1;
        SELECT a FROM t ORDER BY a;
        """
    )
    kinds = [(s.statement_type, s.rows_affected) for s in result.statements]
    assert kinds == [
        ("CREATE", None),
        ("INSERT", 3),
        ("UPDATE", 2),
        ("DELETE", 1),
        ("SELECT", None),
    ]
    assert result.statements[1].text == "INSERT INTO t VALUES (1), (2), (3);"
    assert result.rows == [[20], [30]]


def test_parameters_are_bound_never_pasted(home: Path) -> None:
    evil = "x'); DROP TABLE notes; --"
    result = execute(
        "CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES (:body); SELECT body FROM notes",
        parameters={"body": evil},
    )
    assert result.rows == [[evil]]
    assert execute("SELECT count(*) FROM notes").rows == [[1]]


def test_colons_in_strings_comments_and_casts_are_not_parameters(home: Path) -> None:
    result = execute(
        "SELECT ':not_a_param' AS s, '12'::INT AS i, :real AS r -- :nor_this\n",
        parameters={"real": "yes"},
    )
    assert result.rows == [[":not_a_param", 12, "yes"]]
    assert result.statements[0].text.startswith("SELECT ':not_a_param' AS s, '12'::INT AS i, :real")


def test_string_parameters_compare_with_typed_columns(home: Path) -> None:
    result = execute(
        "SELECT n FROM range(10) r(n) WHERE n >= :low AND n < :high ORDER BY n",
        parameters={"low": "3", "high": "5"},
    )
    assert result.rows == [[3], [4]]


def test_a_missing_parameter_fails_before_anything_runs(home: Path) -> None:
    with pytest.raises(WarehouseError) as caught:
        execute("CREATE TABLE early (a INT); SELECT :day, :hour", parameters={"other": "1"})
    assert str(caught.value) == (
        "the SQL uses parameters :day, :hour but the task does not give them (given: other); "
        "add it to sql_task.parameters or the job's parameters"
    )
    with pytest.raises(WarehouseError, match="early does not exist"):
        execute("SELECT * FROM early")


def test_a_failing_statement_rolls_back_the_others_and_is_named(home: Path) -> None:
    with pytest.raises(WarehouseError) as caught:
        execute("CREATE TABLE half (a INT); INSERT INTO half VALUES (1); SELECT * FROM nope")
    message = str(caught.value)
    assert "Table with name nope does not exist" in message
    assert message.endswith("in statement 3 of 3: SELECT * FROM nope")
    assert caught.value.statement == "SELECT * FROM nope"
    assert "\n" not in caught.value.summary
    with pytest.raises(WarehouseError, match="half does not exist"):
        execute("SELECT * FROM half")


def test_a_syntax_error_runs_nothing(home: Path) -> None:
    with pytest.raises(WarehouseError, match="syntax error"):
        execute("CREATE TABLE never (a INT); SELEC 1")
    with pytest.raises(WarehouseError, match="never does not exist"):
        execute("SELECT * FROM never")


def test_sql_with_its_own_transactions_commits_what_it_committed(home: Path) -> None:
    with pytest.raises(WarehouseError, match="nope"):
        execute(
            "BEGIN; CREATE TABLE kept (a INT); INSERT INTO kept VALUES (1); COMMIT; "
            "SELECT * FROM nope"
        )
    assert execute("SELECT a FROM kept").rows == [[1]]


def test_the_preview_keeps_the_last_result_set_and_is_capped(home: Path) -> None:
    result = execute(
        "SELECT 1 AS first; SELECT n, repeat('x', 3) AS s FROM range(1000) r(n); "
        "CREATE TABLE after_select (a INT)"
    )
    assert result.columns == ["n", "s"]
    assert len(result.rows) == MAX_PREVIEW_ROWS and result.truncated
    assert result.rows[0] == [0, "xxx"]
    exact = execute(f"SELECT n FROM range({MAX_PREVIEW_ROWS}) r(n)")
    assert len(exact.rows) == MAX_PREVIEW_ROWS and not exact.truncated
    wide = execute("SELECT repeat('y', 5000) AS big FROM range(90)")
    assert wide.truncated and 0 < len(wide.rows) < 90  # the byte budget ran out first
    assert len(wide.rows[0][0]) < 5000  # long cells are clipped


def test_values_of_every_kind_become_json_safe_cells(home: Path) -> None:
    result = execute(
        "SELECT NULL AS n, true AS b, 1.5::DOUBLE AS f, 'nan'::DOUBLE AS nan, "
        "12.30::DECIMAL(6,2) AS d, TIMESTAMP '2026-11-23 10:00:00' AS ts, "
        "'\\x01'::BLOB AS blob, [1, 2] AS list, {'k': 'v'} AS struct"
    )
    assert result.rows == [
        [
            None,
            True,
            1.5,
            "nan",
            "12.30",
            "2026-11-23 10:00:00",
            "0x01",
            "[1, 2]",
            '{"k": "v"}',
        ]
    ]


def test_previews_render_as_text_and_escaped_html(home: Path) -> None:
    result = execute("SELECT '<b>&' AS \"a<b\", NULL AS empty")
    assert result.preview_text().splitlines() == [
        "a<b  | empty",
        "-----+------",
        "<b>& | NULL",
        "(1 row)",
    ]
    html = result.preview_html()
    assert "<th>a&lt;b</th>" in html and "<td>&lt;b&gt;&amp;</td>" in html
    assert "<b>" not in html
    nothing = execute("CREATE TABLE quiet (a INT)")
    assert nothing.preview_text() == "(no result set)"


def test_the_output_reads_as_the_sdks_sql_output(home: Path) -> None:
    result = execute("CREATE TABLE o (a INT); INSERT INTO o VALUES (1), (2); SELECT a FROM o")
    output = result.to_output()
    sdk = SqlOutput.from_dict(output)
    assert sdk.query_output is not None
    assert sdk.query_output.warehouse_id == "default"
    assert sdk.query_output.query_text == result.query_text
    assert [s.lookup_key for s in sdk.query_output.sql_statements or []] == ["0", "1", "2"]
    query_output = output["query_output"]
    assert (query_output["statements_executed"], query_output["rows_affected"]) == (3, 2)
    assert query_output["result"] == {
        "columns": ["a"],
        "rows": [[1], [2]],
        "row_count": 2,
        "truncated": False,
    }


def test_comments_only_and_empty_sql_run_nothing(home: Path) -> None:
    result = execute("-- nothing to do\n")
    assert result == SqlResult("default", "-- nothing to do\n")


def test_an_unusable_warehouse_path_is_a_clear_error(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEADRACE_WAREHOUSE_BAD_URL", "duckdb:////proc/headrace/x.duckdb")
    with pytest.raises(
        WarehouseError, match=r"^cannot create the warehouse /proc/headrace/x.duckdb"
    ):
        execute("SELECT 1", "bad")


def test_missing_parameters_are_listed_in_the_order_the_sql_names_them(home: Path) -> None:
    with pytest.raises(WarehouseError, match=r"uses parameters :zeta, :alpha but"):
        execute("SELECT :zeta, :alpha")
