"""examples/notebooks: notebook -> SQL -> Python -> notebook, passing values, via `headrace run`."""

from __future__ import annotations

import json
from pathlib import Path

from notebooks.helpers import log, output, task
from support import Headrace

JOB = Path(__file__).resolve().parents[2] / "examples" / "notebooks" / "job.yml"


def test_the_notebook_example_runs_and_reruns_idempotently(hr: Headrace) -> None:
    _, first = hr.run_json(JOB, "-p", "orders=120", expect=0)
    _, again = hr.run_json(JOB, "-p", "orders=90", expect=0)  # same day: rows replaced

    for run, rows in ((first, 120), (again, 90)):
        assert [task(run, k)["state"]["result_state"] for k in ("ingest", "totals", "check")] == [
            "SUCCESS"
        ] * 3
        assert task(run, "ingest")["task_values"] == {"rows": rows}
        assert output(run, "ingest")["notebook_output"]["result"] == f"{rows} orders from generated"
        assert f"ingest said {rows} rows; daily_totals counts {rows}" in log(run, "check")
        summary = json.loads(output(run, "summary")["notebook_output"]["result"])
        assert len(summary["top"]) == 2  # base_parameters top=2 injected after the tagged cell
        assert summary["amount"] == task(run, "check")["task_values"]["amount"]
    assert "sql_output" in output(first, "totals")

    page = hr("runs", "export", str(again["run_id"]), "summary", "--html")
    assert page.returncode == 0, str(page)
    assert "top 2 of 3 regions" in page.stdout
