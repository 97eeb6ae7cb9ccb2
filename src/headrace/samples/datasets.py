"""The sample datasets Headrace can write: SYNTHETIC data with the schemas of Databricks' own.

Databricks workspaces carry sample data (`samples.nyctaxi.trips`, `/databricks-datasets/...`)
that its default templates read. That data cannot be downloaded here, so these generators write
made-up rows with the same columns and types. Every value comes from integer arithmetic on the
row number (no clock, no random state): the same rows on every machine and every run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

NOTICE = (
    "SYNTHETIC data written by `headrace samples install` (Headrace): the columns and types of "
    "Databricks' sample dataset, made-up values from a deterministic generator. Not the real "
    "dataset; do not draw conclusions from it."
)

TRIPS_ROWS = 21_932  # as many rows as Databricks' samples.nyctaxi.trips
SALES_ORDERS_ROWS = 4_074  # about as many as /databricks-datasets/retail-org/sales_orders/


@dataclass(frozen=True)
class Dataset:
    name: str  # what `--only` takes
    what: str  # where Databricks has it
    rows: int


DATASETS = {
    "nyctaxi": Dataset("nyctaxi", "samples.nyctaxi.trips (table)", TRIPS_ROWS),
    "retail-org": Dataset(
        "retail-org",
        "/databricks-datasets/retail-org/sales_orders/ (JSON files, read by the dbt-sql template)",
        SALES_ORDERS_ROWS,
    ),
}

# samples.nyctaxi.trips: Databricks' columns and types, rows from the row number i.
# (i * a + b) % m with fixed a, b, m are the "random" draws: integer math, the same everywhere.
TRIPS_SQL = f"""
SELECT
  CAST(TIMESTAMP '2016-01-01 00:00:00'
       + to_seconds(CAST((i * 2654435761 + 97) % 5184000 AS BIGINT)) AS TIMESTAMP)
    AS tpep_pickup_datetime,
  CAST(TIMESTAMP '2016-01-01 00:00:00'
       + to_seconds(CAST((i * 2654435761 + 97) % 5184000 + 180 + (i * 40503 + 11) % 2700
         AS BIGINT)) AS TIMESTAMP) AS tpep_dropoff_datetime,
  CAST(round(0.4 + ((i * 2246822519 + 3) % 1400) / 100.0, 2) AS DOUBLE) AS trip_distance,
  CAST(round(2.5 + 2.5 * (0.4 + ((i * 2246822519 + 3) % 1400) / 100.0)
             + ((i * 40503 + 11) % 300) / 100.0, 2) AS DOUBLE) AS fare_amount,
  CAST(10001 + (i * 3266489917 + 5) % 282 AS INTEGER) AS pickup_zip,
  CAST(10001 + (i * 668265263 + 7) % 282 AS INTEGER) AS dropoff_zip
FROM range({TRIPS_ROWS}) AS t(i)
ORDER BY i
"""

_FIRST = ["ANN", "BOB", "CARLA", "DEV", "EMMA", "FARID", "GINA", "HUGO", "IDA", "JONAS"]
_LAST = ["SMITH", "GARCIA", "KIM", "NOVAK", "OKAFOR", "PATEL", "ROSSI", "SATO", "WEBER", "ZHANG"]
_PRODUCTS = [
    ("AVpfHsNJ1cnluZ0-eTfy", "Standing Lamp", 112),
    ("AVpe8DoG1cnluZ0-cQ8H", "Wireless Mouse", 29),
    ("AVpfCuUpilAPnD_xe1Da", "Travel Kettle", 45),
    ("AVphzgbJLJeJML43fA0o", "Noise Headphones", 199),
    ("AVpgMuGwLJeJML43KY_c", "Desk Organizer", 18),
]
_ORDERS_START = 1_561_939_200  # 2019-07-01 00:00:00 UTC, in epoch seconds (as the real data)
_ORDERS_SPAN = 92 * 86_400  # July to September 2019


def sales_orders() -> list[dict]:
    """retail-org/sales_orders rows: the real file's fields (order_datetime is epoch seconds as
    a string, numbers of the real data are strings where they are there)."""
    rows = []
    for i in range(SALES_ORDERS_ROWS):
        customer = (i * 7919 + 13) % 600
        lines = 1 + (i * 31 + 5) % 4
        products = []
        for k in range(lines):
            pid, name, price = _PRODUCTS[(i * 17 + k * 5) % len(_PRODUCTS)]
            products.append(
                {
                    "curr": "USD",
                    "id": pid,
                    "name": name,
                    "price": price,
                    "promotion_info": None,
                    "qty": 1 + (i + k) % 3,
                    "unit": "pcs",
                }
            )
        rows.append(
            {
                "clicked_items": [[p["id"], str(1 + (i + n) % 9)] for n, p in enumerate(products)],
                "customer_id": str(10_000_000 + customer),
                "customer_name": f"{_FIRST[customer % 10]} {_LAST[(customer // 10) % 10]}",
                "number_of_line_items": str(lines),
                "order_datetime": str(_ORDERS_START + (i * 2654435761 + 1) % _ORDERS_SPAN),
                "order_number": 704_000 + i,
                "ordered_products": products,
                "promo_info": None,
            }
        )
    return rows


def write_sales_orders(folder: Path) -> int:
    """JSON-lines file(s) of sales_orders in `folder`; the number of rows."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = sales_orders()
    tmp = folder / ".part-00000.json.tmp"
    with open(tmp, "w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, separators=(",", ":")) + "\n")
    tmp.replace(folder / "part-00000.json")
    return len(rows)
