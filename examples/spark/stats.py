"""A plain PySpark script: no Headrace import, the session comes from the task's cluster."""

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

spark = SparkSession.builder.getOrCreate()
per_store = spark.table("orders").groupBy("store").agg(F.sum("amount").alias("revenue"))
per_store.write.mode("overwrite").saveAsTable("revenue_per_store")
for row in per_store.orderBy("store").collect():
    print(f"store {row.store}: {row.revenue:.0f}")
