"""engine.pipelines without Spark: settings checks, the stored definitions, update records."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from headrace.engine import pipelines
from headrace.errors import NotFound, SpecError


def messages(exc: SpecError) -> list[str]:
    return [str(issue) for issue in exc.issues]


def test_settings_are_checked_with_field_paths() -> None:
    with pytest.raises(SpecError) as caught:
        pipelines.check_settings(
            {
                "name": "p",
                "schema": "a",
                "target": "b",
                "continuous": True,
                "configuration": {"k": 1},
                "libraries": [{"jar": "x.jar"}, {"glob": {}}, {"notebook": {"path": "/n"}}],
                "colour": "blue",
            }
        )
    assert messages(caught.value) == [
        "colour: unknown pipeline setting",
        "target: set schema or target (its older name), not both",
        "configuration: must be a mapping of strings to strings",
        "continuous: continuous pipelines are not supported; run updates",
        "libraries[0].jar: JAR libraries are not supported in pipelines",
        "libraries[1].glob.include: field required (a path)",
    ]


def test_create_get_list_edit_delete(tmp_path: Path) -> None:
    settings = {"name": "sales", "catalog": "main", "libraries": [{"glob": {"include": "/s/**"}}]}
    pid = pipelines.create_pipeline(tmp_path, settings, creator="alice")
    got = pipelines.get_pipeline(tmp_path, pid)
    assert got["spec"] == {**settings, "id": pid}
    assert got["state"] == "IDLE" and got["creator_user_name"] == "alice"
    assert [p["pipeline_id"] for p in pipelines.list_pipelines(tmp_path)] == [pid]
    pipelines.edit_pipeline(tmp_path, pid, {**settings, "name": "sales2", "pipeline_id": pid})
    assert pipelines.get_pipeline(tmp_path, pid)["name"] == "sales2"
    assert pipelines.find_by_name(tmp_path, "sales2") == pid
    pipelines.delete_pipeline(tmp_path, pid)
    with pytest.raises(NotFound, match="does not exist"):
        pipelines.get_pipeline(tmp_path, pid)
    with pytest.raises(NotFound):
        pipelines.get_pipeline(tmp_path, "../etc")


def test_one_active_update_at_a_time_and_a_dead_one_is_failed(tmp_path: Path) -> None:
    pid = pipelines.create_pipeline(tmp_path, {"name": "p"})
    first = pipelines.new_update(tmp_path, pid)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    first = pipelines.set_update(tmp_path, first, pid=sleeper.pid)
    with pytest.raises(SpecError, match="is still running"):
        pipelines.new_update(tmp_path, pid)
    sleeper.kill()
    sleeper.wait()
    done = pipelines.get_update(tmp_path, pid, first["update_id"])
    assert done["state"] == "FAILED" and done["state_message"] == "the update's process ended"
    second = pipelines.new_update(tmp_path, pid, full_refresh=True, cause="JOB_TASK")
    listed = pipelines.list_updates(tmp_path, pid)
    assert [u["update_id"] for u in listed] == [second["update_id"], first["update_id"]]
    assert listed[0]["full_refresh"] is True and listed[0]["cause"] == "JOB_TASK"
    assert pipelines.get_pipeline(tmp_path, pid)["latest_updates"][0]["state"] == "QUEUED"


def test_bundle_pipelines_are_created_once_then_updated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEADRACE_HOME", str(tmp_path))
    spec = {"name": "etl", "libraries": [{"file": {"path": "/a.py"}}], "permissions": []}
    first = pipelines.deploy_bundle_pipeline(
        None, key="etl", source="/b/databricks.yml#dev", spec=spec
    )
    again = pipelines.deploy_bundle_pipeline(
        None, key="etl", source="/b/databricks.yml#dev", spec={**spec, "schema": "s"}
    )
    assert first == again
    assert pipelines.get_pipeline(tmp_path, first)["spec"]["schema"] == "s"
