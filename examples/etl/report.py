"""Write one region's report (run once per region by the for_each task)."""

import json
import sys

from common import run_dir

region = sys.argv[1]
totals = json.loads((run_dir() / "totals.json").read_text())
report = run_dir() / f"report_{region}.txt"
report.write_text(f"{region}: {totals[region]:.2f}\n")
print(f"wrote {report}")
