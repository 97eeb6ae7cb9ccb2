"""%sql cells run on the SQL warehouse (headrace.warehouse, embedded DuckDB by default)."""

from __future__ import annotations

from notebooks.helpers import cell_text, executed, ipynb, log, source_notebook, task
from support import Headrace


def test_sql_cells_bind_widgets_show_a_preview_and_tables_persist(hr: Headrace) -> None:
    source_notebook(
        hr,
        "load.py",
        'dbutils.widgets.text("min_qty", "0")',
        """
        # MAGIC %sql
        # MAGIC CREATE OR REPLACE TABLE orders AS
        # MAGIC   SELECT * FROM (VALUES (1, 5), (2, 15), (3, 25)) t(id, qty);
        # MAGIC -- a ':not_a_param' in a comment or 'a :string' is left alone
        # MAGIC SELECT id, qty, ':x' AS s FROM orders WHERE qty >= CAST(:min_qty AS INTEGER)
        # MAGIC ORDER BY id
        """,
        "print('rows:', _sqldf.rows)",
    )
    (hr.dir / "count.sql").write_text(
        "-- Databricks notebook source\n"
        "SELECT count(*) AS n FROM orders\n"
        "\n-- COMMAND ----------\n\n"
        "-- MAGIC %python\n"
        "-- MAGIC dbutils.notebook.exit(str(_sqldf.rows[0][0]))\n"
    )
    job = hr.write(
        "job.yml",
        """
        name: sqlnb
        tasks:
          - task_key: load
            notebook_task: {notebook_path: ./load, base_parameters: {min_qty: "10"}}
          - task_key: count
            depends_on: [{task_key: load}]
            notebook_task: {notebook_path: ./count}
        """,
    )

    _, run = hr.run_json(job, expect=0)

    assert "rows: [[2, 15, ':x'], [3, 25, ':x']]" in log(run, "load")
    preview = executed(run, "load")["cells"][1]
    shown = cell_text(preview)
    assert "<table" in shown and "qty" in shown and "25" in shown
    assert "Notebook exited: 3" in cell_text(executed(run, "count")["cells"][-1])
    assert task(run, "count")["state"]["result_state"] == "SUCCESS"


def test_a_failing_sql_cell_fails_the_task_with_the_database_message(hr: Headrace) -> None:
    ipynb(
        hr,
        "bad.ipynb",
        "%%sql\nSELECT 1 AS fine",
        "%sql\nSELECT * FROM no_such_table",
    )
    job = hr.write(
        "job.yml",
        """
        name: sqlnb
        tasks:
          - task_key: bad
            notebook_task: {notebook_path: bad.ipynb}
        """,
    )

    _, run = hr.run_json(job, expect=1)

    message = task(run, "bad")["state"]["state_message"]
    assert message.startswith("WarehouseError"), message
    assert "no_such_table" in message
    nb = executed(run, "bad")
    assert "fine" in cell_text(nb["cells"][0])
    assert "no_such_table" in cell_text(nb["cells"][1])
