"""Print what the run produced."""

from common import run_dir

from headrace.runtime import dbutils

ratio = dbutils.jobs.taskValues.get(taskKey="transform", key="valid_ratio", debugValue=1.0)
reports = sorted(p.name for p in run_dir().glob("report_*.txt"))
print(f"valid ratio {ratio}; reports: {', '.join(reports) or 'none (quality gate failed)'}")
