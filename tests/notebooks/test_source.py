"""Databricks source notebooks -> cells, and the kernel's magic-line transformer (pure)."""

from __future__ import annotations

from headrace.notebook.magics import databricks_cell_magics
from headrace.notebook.source import Cell, is_source_notebook, parse

PY = """\
# Databricks notebook source
# MAGIC %md
# MAGIC # Title
# MAGIC
# MAGIC Some text

# COMMAND ----------

# DBTITLE 1,Load the data
x = 1

# COMMAND ----------

# MAGIC %sql
# MAGIC SELECT 1

# COMMAND ----------

# MAGIC %python
# MAGIC y = 2

# COMMAND ----------

# MAGIC %run ./other

# COMMAND ----------

"""


def test_python_source_notebook_cells() -> None:
    assert parse(PY, ".py") == [
        Cell("markdown", "# Title\n\nSome text"),
        Cell("code", "x = 1", title="Load the data"),
        Cell("code", "%sql\nSELECT 1"),
        Cell("code", "y = 2"),
        Cell("code", "%run ./other"),
    ]


def test_sql_source_notebook_cells_are_sql_unless_magic() -> None:
    text = (
        "-- Databricks notebook source\nSELECT 1;\nSELECT 2\n\n-- COMMAND ----------\n"
        "-- MAGIC %md notes\n\n-- COMMAND ----------\n-- MAGIC %python\n-- MAGIC print(1)\n"
    )
    assert parse(text, ".sql") == [
        Cell("code", "%sql\nSELECT 1;\nSELECT 2"),
        Cell("markdown", "notes"),
        Cell("code", "print(1)"),
    ]


def test_a_plain_python_file_is_one_cell_and_is_no_source_notebook() -> None:
    assert parse("import os\n\nprint(os.sep)\n", ".py") == [
        Cell("code", "import os\n\nprint(os.sep)")
    ]
    assert not is_source_notebook("import os\n", ".py")
    assert is_source_notebook("\ufeff# Databricks notebook source\nx = 1\n", ".py")
    assert is_source_notebook("-- Databricks notebook source\n", ".sql")
    assert not is_source_notebook("# Databricks notebook source\n", ".ipynb")


def test_windows_line_endings_and_empty_cells() -> None:
    text = "# Databricks notebook source\r\nx = 1\r\n# COMMAND ----------\r\n\r\n"
    assert parse(text, ".py") == [Cell("code", "x = 1")]


def test_magic_first_lines_become_cell_magics() -> None:
    assert databricks_cell_magics(["%sql\n", "SELECT 1\n"]) == ["%%sql\n", "SELECT 1\n"]
    assert databricks_cell_magics(["\n", "%sh echo a\n", "echo b\n"]) == [
        "%%sh echo a\n",
        "echo b\n",
    ]
    assert databricks_cell_magics(["%md-sandbox\n", "# t\n"]) == ["%%md\n", "# t\n"]
    # one line: the line-magic form, so `%sh exit 3` is a command and not an empty cell
    assert databricks_cell_magics(["%sh exit 3"]) == ["%sh exit 3\n"]
    assert databricks_cell_magics(["%python\n", "x = 1\n"]) == ["x = 1\n"]


def test_other_lines_are_left_alone() -> None:
    for lines in (
        ["%%sql\n", "SELECT 1\n"],
        ["%run ./x\n"],
        ["%pip install requests\n"],
        ["x = 1\n", "%sql\n"],
        ["# %sql\n"],
        [],
    ):
        assert databricks_cell_magics(list(lines)) == lines
