"""Check the SQL totals against the row count the ingest notebook passed on."""

import argparse

from databricks.sdk.runtime import dbutils  # Headrace's dbutils inside a Headrace task

from headrace.warehouse import execute

parser = argparse.ArgumentParser()
parser.add_argument("--rows", type=int, required=True)
rows = parser.parse_args().rows

counted = execute("SELECT sum(orders) AS n, sum(amount) AS amount FROM daily_totals").rows[0]
print(f"ingest said {rows} rows; daily_totals counts {counted[0]} (amount {counted[1]})")
if counted[0] != rows:
    raise SystemExit(f"mismatch: {counted[0]} orders in daily_totals, {rows} ingested")
assert rows == dbutils.jobs.taskValues.get(taskKey="ingest", key="rows", debugValue=rows)
dbutils.jobs.taskValues.set("amount", counted[1])
