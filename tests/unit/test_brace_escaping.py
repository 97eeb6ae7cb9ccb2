"""`{{name}}` values can never end the quoting they are put in, whatever the database's
string rules (issue 14 follow-up: a reviewer broke out of a Spark string with a backslash)."""

from __future__ import annotations

import duckdb
import pytest

from headrace.warehouse import braces
from headrace.warehouse.errors import WarehouseError
from headrace.warehouse.sqlalchemy_backend import split

HOSTILE = [
    "\\' OR 1=1; DROP TABLE t; --",
    "a'b; DROP TABLE t; --",
    "\\",
    "x\\",
    '"; DROP TABLE t; --',
    "`; DROP TABLE t; --",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_backslash_databases_get_one_statement_and_the_value_as_a_string(value: str) -> None:
    sql = braces.substitute(
        "SELECT {{v}} AS a, 'x {{v}}' AS b, \"{{v}}\" AS c; SELECT 2",
        {"v": value},
        backslash_escapes=True,
    )
    # The splitter (Spark and MySQL warehouses split with it) sees exactly two statements.
    assert len(split(sql)) == 2, sql


@pytest.mark.parametrize("value", HOSTILE)
def test_duckdb_reads_the_value_back_unchanged(value: str) -> None:
    sql = braces.substitute(
        "SELECT {{v}} AS a, 'x{{v}}' AS b, E'e{{v}}' AS c, $$d{{v}}$$ AS d", {"v": value}
    )
    row = duckdb.connect().execute(sql).fetchone()
    assert row == (value, "x" + value, "e" + value, "d" + value)


def test_a_dollar_quote_in_a_value_inside_dollar_quotes_is_refused() -> None:
    with pytest.raises(WarehouseError, match=r"'v'.*\$\$"):
        braces.substitute("SELECT $$hi {{v}}$$", {"v": "$$; DROP TABLE t; SELECT $$"})
