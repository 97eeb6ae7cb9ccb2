from pyspark.sql import SparkSession

spark = SparkSession.builder.getOrCreate()
row = spark.table("main.shop.summary").first()
print(f"{row.customers} customers, {row.orders} orders")
