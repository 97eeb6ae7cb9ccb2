# Databricks notebook source
# MAGIC %md
# MAGIC # Explore a region's sales
# MAGIC Widgets, a `%sql` cell, task values and an exit value, as on Databricks; the count
# MAGIC comes from the embedded warehouse through `headrace.warehouse` (on Databricks: `spark.sql`).

# COMMAND ----------

dbutils.widgets.text("region", "emea")
region = dbutils.widgets.get("region")
print(f"exploring {region}")

# COMMAND ----------

# MAGIC %sql
# MAGIC SELECT region, count(*) AS products, sum(quantity * price) AS revenue
# MAGIC FROM retail_sales GROUP BY region ORDER BY region

# COMMAND ----------

from headrace.warehouse import execute

result = execute(
    "SELECT count(*), sum(quantity * price) FROM retail_sales WHERE region = :region",
    parameters={"region": region},
)
rows, total = result.rows[0]
dbutils.jobs.taskValues.set("rows", int(rows))
dbutils.jobs.taskValues.set("total", float(total))
dbutils.notebook.exit(f"{region}: {rows} products, {total} revenue")
