# Databricks notebook source
# MAGIC %sql
# MAGIC SELECT count(*) AS orders, sum(amount) AS revenue FROM orders

# COMMAND ----------
totals = _sqldf.first()  # a Spark DataFrame: %sql ran on the job cluster
print(f"{totals.orders} orders, revenue {totals.revenue:.0f}")
dbutils.jobs.taskValues.set("revenue", totals.revenue)
