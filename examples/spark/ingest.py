# Databricks notebook source
# MAGIC %md Ingest: `rows` orders into the table `orders` (on the run's job cluster).

# COMMAND ----------
from pyspark.sql import functions as F

dbutils.widgets.text("rows", "100")
rows = int(dbutils.widgets.get("rows"))
orders = spark.range(rows).select(
    F.col("id").alias("order_id"),
    (F.col("id") % 7).alias("store"),
    (F.col("id") % 13 + 1).cast("double").alias("amount"),
)
orders.write.mode("overwrite").saveAsTable("orders")
display(spark.table("orders").limit(5))

# COMMAND ----------
dbutils.notebook.exit(str(spark.table("orders").count()))
