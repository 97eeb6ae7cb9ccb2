"""engine.pipelines without Spark: settings checks, definitions and update records in the SQL
store, old JSON files moved into it."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from headrace.engine import pipelines
from headrace.errors import NotFound, ResourceConflict, SpecError
from headrace.store.db import Store, open_store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(f"sqlite:///{tmp_path / 'headrace.db'}")
    yield opened
    opened.dispose()


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


def test_create_get_list_edit_delete(store: Store, tmp_path: Path) -> None:
    settings = {"name": "sales", "catalog": "main", "libraries": [{"glob": {"include": "/s/**"}}]}
    pid = pipelines.create_pipeline(store, settings, creator="alice")
    got = pipelines.get_pipeline(store, pid)
    assert got["spec"] == {**settings, "id": pid}
    assert got["state"] == "IDLE" and got["creator_user_name"] == "alice"
    assert [p["pipeline_id"] for p in pipelines.list_pipelines(store)] == [pid]
    pipelines.edit_pipeline(store, pid, {**settings, "name": "sales2", "pipeline_id": pid})
    assert pipelines.get_pipeline(store, pid)["name"] == "sales2"
    assert pipelines.find_by_name(store, "sales2") == pid
    (tmp_path / "pipelines" / pid / "storage").mkdir(parents=True)
    pipelines.delete_pipeline(store, pid, tmp_path)
    assert not (tmp_path / "pipelines" / pid).exists()
    with pytest.raises(NotFound, match="does not exist"):
        pipelines.get_pipeline(store, pid)
    with pytest.raises(NotFound):
        pipelines.get_pipeline(store, "../etc")


def test_one_active_update_at_a_time_and_an_orphaned_one_is_failed(store: Store) -> None:
    pid = pipelines.create_pipeline(store, {"name": "p"})
    first = pipelines.new_update(store, pid)
    assert first["lease_until"] > first["creation_time"]
    with pytest.raises(ResourceConflict, match=f"An active update {first['update_id']} already"):
        pipelines.new_update(store, pid)
    assert pipelines.renew_lease(store, first)
    # Its owner (a worker, a server) died: nobody renews the lease, and once it passed the
    # update is FAILED with the reason instead of RUNNING forever.
    pipelines.set_update(store, first, state="RUNNING", lease_until=1)
    done = pipelines.get_update(store, pid, first["update_id"])
    assert done["state"] == "FAILED" and done["state_message"] == pipelines.LEASE_EXPIRED
    assert not pipelines.renew_lease(store, first)  # an ended update keeps its end
    pipelines.set_update(store, first, state="COMPLETED")
    assert pipelines.get_update(store, pid, first["update_id"])["state"] == "FAILED"
    second = pipelines.new_update(store, pid, full_refresh=True, cause="JOB_TASK")
    listed = pipelines.list_updates(store, pid)
    assert [u["update_id"] for u in listed] == [second["update_id"], first["update_id"]]
    assert listed[0]["full_refresh"] is True and listed[0]["cause"] == "JOB_TASK"
    assert pipelines.get_pipeline(store, pid)["latest_updates"][0]["state"] == "QUEUED"
    assert "lease_until" not in pipelines.public_update(listed[0])


def test_an_orphaned_update_does_not_block_the_next_start(store: Store) -> None:
    pid = pipelines.create_pipeline(store, {"name": "p"})
    first = pipelines.new_update(store, pid)
    pipelines.set_update(store, first, lease_until=1)
    second = pipelines.new_update(store, pid)  # settles the orphan in the same transaction
    assert pipelines.get_update(store, pid, first["update_id"])["state"] == "FAILED"
    assert pipelines.get_update(store, pid, second["update_id"])["state"] == "QUEUED"


def test_an_update_recorded_before_leases_is_failed_when_its_process_is_gone(
    store: Store,
) -> None:
    pid = pipelines.create_pipeline(store, {"name": "p"})
    first = pipelines.new_update(store, pid)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    pipelines.set_update(store, first, pid=sleeper.pid, lease_until=None)
    with pytest.raises(ResourceConflict):
        pipelines.new_update(store, pid)
    sleeper.kill()
    sleeper.wait()
    done = pipelines.get_update(store, pid, first["update_id"])
    assert done["state"] == "FAILED" and done["state_message"] == "the update's process ended"


def test_bundle_pipelines_are_created_once_then_updated_then_destroyed(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEADRACE_HOME", str(tmp_path))
    spec = {"name": "etl", "libraries": [{"file": {"path": "/a.py"}}], "permissions": []}
    source = "/b/databricks.yml#dev"
    first = pipelines.deploy_bundle_pipeline(store, key="etl", source=source, spec=spec)
    again = pipelines.deploy_bundle_pipeline(
        store, key="etl", source=source, spec={**spec, "schema": "s"}
    )
    assert first == again
    assert pipelines.get_pipeline(store, first)["spec"]["schema"] == "s"
    other = pipelines.deploy_bundle_pipeline(
        store, key="etl", source="/c/databricks.yml#dev", spec=spec
    )
    assert other != first
    with pytest.raises(SpecError, match="libraries"):
        pipelines.deploy_bundle_pipeline(store, key="bad", source=source, spec={"libraries": 3})
    assert [p["pipeline_id"] for p in pipelines.list_pipelines(store)] == sorted([first, other])
    assert pipelines.delete_bundle_pipeline(store, key="etl", source=source) == first
    assert pipelines.delete_bundle_pipeline(store, key="etl", source=source) is None
    assert [p["pipeline_id"] for p in pipelines.list_pipelines(store)] == [other]


def test_a_second_process_sees_the_same_pipelines(store: Store, tmp_path: Path) -> None:
    """The server and the workers share the store: another process lists what this one made."""
    pid = pipelines.create_pipeline(store, {"name": "shared"})
    update = pipelines.new_update(store, pid)
    code = (
        "from headrace.engine import pipelines as p; s = p.open_pipelines(); "
        "print([x['pipeline_id'] for x in p.list_pipelines(s)], "
        f"[u['update_id'] for u in p.list_updates(s, {pid!r})])"
    )
    env = {"PATH": "/usr/bin:/bin", "HEADRACE_DB": str(tmp_path / "headrace.db")}
    env["HEADRACE_HOME"] = str(tmp_path / "elsewhere")
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == f"[{pid!r}] [{update['update_id']!r}]"


def test_json_files_of_an_older_headrace_are_moved_into_the_store(tmp_path: Path) -> None:
    """Pipelines kept as <home>/pipelines/<id>/pipeline.json are in the store after the first
    open; an update that was running then is FAILED; the files are renamed, not read again."""
    folder = tmp_path / "pipelines" / "p-old"
    (folder / "updates").mkdir(parents=True)
    spec = {"name": "legacy", "schema": "s", "libraries": [{"glob": {"include": "/x/**"}}]}
    (folder / "pipeline.json").write_text(
        json.dumps(
            {
                "pipeline_id": "p-old",
                "spec": spec,
                "creator_user_name": "bob",
                "created": 1000,
                "last_modified": 2000,
                "bundle": "/b.yml#dev:etl",
            }
        )
    )
    for uid, state, when in (("u1", "COMPLETED", 3000), ("u2", "RUNNING", 4000)):
        (folder / "updates" / f"{uid}.json").write_text(
            json.dumps(
                {
                    "pipeline_id": "p-old",
                    "update_id": uid,
                    "state": state,
                    "cause": "API_CALL",
                    "creation_time": when,
                    "full_refresh": False,
                    "config": spec,
                    "pid": 999999,
                }
            )
        )
    store = pipelines.open_pipelines(tmp_path)
    try:
        got = pipelines.get_pipeline(store, "p-old")
        assert got["name"] == "legacy" and got["creator_user_name"] == "bob"
        assert got["spec"] == {**spec, "id": "p-old"}
        updates = pipelines.list_updates(store, "p-old")
        assert [(u["update_id"], u["state"]) for u in updates] == [
            ("u2", "FAILED"),
            ("u1", "COMPLETED"),
        ]
        assert updates[0]["state_message"] == "the update's process ended"
        assert not (folder / "pipeline.json").exists() and (folder / "pipeline.json.moved").exists()
        # Bundle deployments keep their tag: deploying again updates the moved pipeline.
        again = pipelines.deploy_bundle_pipeline(store, key="etl", source="/b.yml#dev", spec=spec)
        assert again == "p-old"
    finally:
        store.dispose()
