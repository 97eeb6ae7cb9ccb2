"""Dynamic value references in bundles: `{{job.parameters.[name]}}` bracket syntax resolves at
run time, and an unknown reference is a validate error (not a run-time surprise)."""

from __future__ import annotations

import pytest

from headrace.bundle.loader import load_bundle
from headrace.errors import SpecError
from support import Headrace, hr

__all__ = ["hr"]

BUNDLE = """
bundle: {name: refs}
resources:
  jobs:
    refs:
      parameters:
        - {name: my-param, default: dashed}
        - {name: plain, default: simple}
      tasks:
        - task_key: show
          shell_command_task:
            command: "echo {{job.parameters.[my-param]}} {{ job.parameters[plain] }} {{job.parameters.plain}}"
"""


def test_bracket_references_resolve_when_the_job_runs(hr: Headrace) -> None:
    hr.write("databricks.yml", BUNDLE)
    ran = hr("bundle", "run", "refs", "--json", "-p", "my-param=given")
    assert ran.returncode == 0, str(ran)
    out = hr("runs", "logs", str(ran.json()["run_id"]), "show").stdout
    assert out.strip() == "given simple simple"


def test_an_unknown_reference_is_a_validate_error(hr: Headrace) -> None:
    hr.write("databricks.yml", BUNDLE.replace("[plain]", "[plian]"))
    with pytest.raises(SpecError) as exc:
        load_bundle(hr.dir, env={})
    assert "no job parameter named 'plian' (did you mean 'plain'?)" in str(exc.value)
    hr.write("databricks.yml", BUNDLE.replace("{{job.parameters.plain}}", "{{job.colour}}"))
    bad = hr("bundle", "validate")
    assert bad.returncode == 2 and "unknown reference {{job.colour}}" in bad.stderr, str(bad)


TRIGGERED = """
bundle: {name: triggered}
resources:
  jobs:
    watch:
      trigger:
        table_update: {table_names: [main.s.t], condition: ALL_UPDATED}
      tasks:
        - task_key: show
          shell_command_task:
            command: >-
              echo "{{job.trigger.type}} {{job.trigger.table_update.updated_tables}}
              [{{job.trigger.table_update.main.s.t.version}}]
              [{{job.trigger.file_arrival.location}}] {{job.trigger.time.iso_date}}"
"""


def test_trigger_references_of_a_run_started_by_hand(hr: Headrace) -> None:
    # `bundle run` of a table-update job: a one-time run, no table updated, no files.
    hr.write("databricks.yml", TRIGGERED)
    ok = hr("bundle", "validate")
    assert ok.returncode == 0 and "table_update" not in ok.stderr, str(ok)
    ran = hr("bundle", "run", "watch", "--json")
    assert ran.returncode == 0, str(ran)
    out = hr("runs", "logs", str(ran.json()["run_id"]), "show").stdout.split()
    assert out[:4] == ["one_time", "[]", "[]", "[]"], out
    assert len(out[4]) == 10 and out[4][4] == "-"
