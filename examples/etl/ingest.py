"""Write the day's raw sales as CSV (random but reproducible per day)."""

import argparse
import csv
import random

from common import run_dir

parser = argparse.ArgumentParser()
parser.add_argument("--rows", type=int, required=True)
parser.add_argument("--day", required=True)
args = parser.parse_args()

rng = random.Random(args.day)
regions = ["north", "south", "east", "west"]
out = run_dir() / "raw_sales.csv"
with out.open("w", newline="") as f:
    writer = csv.writer(f)
    writer.writerow(["order_id", "region", "amount"])
    for i in range(args.rows):
        amount = "" if rng.random() < 0.03 else f"{rng.uniform(5, 500):.2f}"
        writer.writerow([i, rng.choice(regions), amount])
print(f"ingested {args.rows} rows for {args.day} into {out}")
