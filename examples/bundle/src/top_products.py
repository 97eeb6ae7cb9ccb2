"""Print a region's best-selling products (the Python-defined job's task)."""

import sys

from headrace.warehouse import execute

region, top = sys.argv[1], int(sys.argv[2])
result = execute(
    "SELECT product, quantity * price AS revenue FROM retail_sales "
    "WHERE region = :region ORDER BY revenue DESC LIMIT :top",
    parameters={"region": region, "top": str(top)},
)
if not result.rows:
    print(f"no sales loaded for {region} yet: run retail_daily first")
for product, revenue in result.rows:
    print(f"{product:10} {revenue:>8}")
