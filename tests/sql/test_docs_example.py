"""docs/sql.md's first example runs as written (so the page stays true)."""

from __future__ import annotations

import re
from pathlib import Path

from support import Headrace

from .helpers import output_of, results

DOC = Path(__file__).resolve().parents[2] / "docs" / "sql.md"


def test_the_docs_example_runs(hr: Headrace) -> None:
    text = DOC.read_text()
    job = re.findall(r"```yaml\n(.*?)```", text, flags=re.S)[0]
    report = re.findall(r"```sql\n(.*?)```", text, flags=re.S)[0]
    assert report.startswith("-- sql/report.sql\n")
    hr.write("daily.yml", job)
    hr.write("sql/report.sql", report)
    hr.write(
        "visits.csv",
        "day,page,n\n2026-11-24,home,7\n2026-11-24,home,6\n2026-11-24,docs,4\n2026-11-23,docs,50\n",
    )
    _, run = hr.run_json(hr.dir / "daily.yml", "-p", "day=2026-11-24", expect=0)
    assert results(run) == {"load": "SUCCESS", "report": "SUCCESS"}
    result = output_of(run, "report")["sql_output"]["query_output"]["result"]
    assert result["columns"] == ["page", "views"]
    assert result["rows"] == [["home", 13]]
