"""Clean the raw CSV, total per region, and share the results as task values."""

import csv
import json
from collections import defaultdict

from common import run_dir

from headrace.runtime import dbutils

raw = list(csv.DictReader((run_dir() / "raw_sales.csv").open()))
valid = [r for r in raw if r["amount"]]
totals: dict[str, float] = defaultdict(float)
for r in valid:
    totals[r["region"]] += float(r["amount"])
(run_dir() / "totals.json").write_text(json.dumps(totals, indent=2))

ratio = round(len(valid) / len(raw), 4) if raw else 0.0
dbutils.jobs.taskValues.set("valid_ratio", ratio)
dbutils.jobs.taskValues.set("rows_out", len(valid))
dbutils.jobs.taskValues.set("regions", sorted(totals))
print(f"{len(valid)}/{len(raw)} rows valid ({ratio:.1%}); regions: {', '.join(sorted(totals))}")
