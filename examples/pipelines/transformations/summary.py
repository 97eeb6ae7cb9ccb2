import dlt  # Databricks' DLT names work where Spark Declarative Pipelines has the same construct


@dlt.table
def summary():
    return dlt.read("per_customer").selectExpr("count(*) AS customers", "sum(n) AS orders")
