# Databricks notebook source
# MAGIC %md
# MAGIC # Ingest one day of orders
# MAGIC Generates `orders` rows for the `day` widget into the warehouse's `orders` table
# MAGIC (replacing that day's rows, so reruns and repairs are idempotent).

# COMMAND ----------

dbutils.widgets.text("day", "2026-01-01")
dbutils.widgets.text("orders", "100")
dbutils.widgets.text("source", "interactive")
print(f"ingesting {dbutils.widgets.get('orders')} orders for {dbutils.widgets.get('day')}")

# COMMAND ----------

# MAGIC %sql
# MAGIC CREATE TABLE IF NOT EXISTS orders (day DATE, region TEXT, amount INTEGER);
# MAGIC DELETE FROM orders WHERE day = CAST(:day AS DATE);
# MAGIC INSERT INTO orders
# MAGIC   SELECT CAST(:day AS DATE), 'region-' || (i % 3), CAST((i * 37) % 100 AS INTEGER)
# MAGIC   FROM range(CAST(:orders AS INTEGER)) t(i);
# MAGIC SELECT count(*) AS n FROM orders WHERE day = CAST(:day AS DATE)

# COMMAND ----------

rows = _sqldf.rows[0][0]  # the last %sql cell's result
dbutils.jobs.taskValues.set("rows", rows)
dbutils.notebook.exit(f"{rows} orders from {dbutils.widgets.get('source')}")
