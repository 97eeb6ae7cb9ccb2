"""The same CLI on PostgreSQL: `--db postgresql://...` runs, inspects and repairs runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from pg_support import pg_base_url, with_search_path
from support import Headrace

from .helpers import attempts, results, task

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "etl" / "job.yml"

pytestmark = pytest.mark.postgres


def test_example_runs_on_postgresql_and_repair_works(hr: Headrace, pg_schema: str) -> None:
    db = with_search_path(pg_base_url(), pg_schema)
    _, run = hr.run_json(EXAMPLE, "--db", db, expect=0)
    assert results(run)["alert"] == "EXCLUDED"
    assert len(attempts(task(run, "fetch_fx_rates"))) == 2
    assert not (hr.home / "headrace.db").exists()  # nothing went to the default SQLite store

    listed = hr("runs", "list", "--json", "--db", db)
    assert listed.returncode == 0, str(listed)
    assert [r["run_id"] for r in listed.json()["runs"]] == [run["run_id"]]

    repair = hr("runs", "repair", str(run["run_id"]), "--task", "summary", "--json", "--db", db)
    assert repair.returncode == 0, str(repair)
    repaired = repair.json()
    assert [h["type"] for h in repaired["repair_history"]] == ["ORIGINAL", "REPAIR"]
    assert task(repaired, "summary")["run_id"] != task(run, "summary")["run_id"]
    assert task(repaired, "ingest")["run_id"] == task(run, "ingest")["run_id"]
