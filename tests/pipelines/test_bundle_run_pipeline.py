"""`headrace bundle run <pipeline key>`, as Databricks' CLI runs a bundle's pipeline: its
pipelines stored, an update run here. No Spark: the update fails before it (no sources)."""

from __future__ import annotations

import json
from pathlib import Path

from support import Headrace

BUNDLE = """
bundle: {name: shop}
resources:
  pipelines:
    etl:
      name: etl
      libraries: [{glob: {include: src/**}}]
"""


def test_bundle_run_of_a_pipeline_key_runs_an_update(tmp_path: Path) -> None:
    hr = Headrace(tmp_path)
    root = hr.write("shop/databricks.yml", BUNDLE).parent
    hr.write("shop/src/README.md", "no sources yet\n")
    result = hr("bundle", "run", "etl", "--path", root, "--json")
    assert result.returncode == 1, str(result)
    update = json.loads(result.stdout)
    assert update["state"] == "FAILED" and update["cause"] == "USER_ACTION"
    assert "has no source files" in update["state_message"]
    assert "pipeline update failed" in result.stderr  # the update's own output
    listed = hr("pipelines", "list")
    assert '"name": "etl"' in listed.stdout, str(listed)

    unknown = hr("bundle", "run", "nope", "--path", root)
    assert unknown.returncode != 0
    assert "the bundle has no job or pipeline 'nope' (it has: etl)" in unknown.stderr
