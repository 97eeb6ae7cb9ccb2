from pyspark import pipelines as dp
from pyspark.sql import DataFrame, SparkSession

spark = SparkSession.active()


@dp.materialized_view
def raw_orders() -> DataFrame:
    """Ten orders of three customers (a stand-in for an ingested source)."""
    return spark.range(10).selectExpr("id", "id % 3 AS customer")
