"""A pipeline update's process never sees the store: its owner (the worker of a pipeline_task,
the server or CLI) records what it reports; and two starts at once on PostgreSQL make one
update. No Spark: the update processes here fail before Spark or are stand-ins."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from headrace.engine import pipelines
from headrace.errors import NotFound, ResourceConflict
from headrace.store import pipelines as rows
from headrace.store.db import Store, open_store
from headrace.store.records import Attempt
from headrace.worker import supervisor
from headrace.worker.supervisor import KillSwitch, attempt_dir, run_attempt
from headrace.worker.tasks import TaskCommand
from pg_support import pg_base_url, with_search_path
from support import running_attempt, wait_dead, wait_for


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    monkeypatch.setenv("HEADRACE_HOME", str(tmp_path))
    url = f"sqlite:///{tmp_path / 'headrace.db'}"
    monkeypatch.setenv("HEADRACE_DB", url)  # as a worker has it: the task must not
    opened = open_store(url)
    yield opened
    opened.dispose()


def pipeline_attempt(pipeline_id: str) -> Attempt:
    payload = {
        "task_type": "pipeline_task",
        "settings": {"pipeline_id": pipeline_id},
        "task_key": "refresh",
        "run_id": 1,
        "job_id": 1,
        "task_run_id": 1001,
        "attempt_number": 0,
        "parameters": {},
        "task_values": {},
    }
    return running_attempt(payload, worker_id="w1", start_time=None)


# A stand-in for the update process: it dumps its environment and reports states.
STAND_IN = """
import json, os, pathlib, sys
update = pathlib.Path(os.environ["HEADRACE_PIPELINE_UPDATE"])
(update.parent / "env.json").write_text(json.dumps(dict(os.environ)))
with open(update.parent / "pipeline_states.jsonl", "a") as f:
    f.write(json.dumps({"state": "RUNNING"}) + "\\n")
    if sys.argv[1] == "ok":
        f.write(json.dumps({"state": "COMPLETED"}) + "\\n")
if sys.argv[1] == "hang":  # a child in the background too: the whole group must go
    import subprocess
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    (update.parent / "child.pid").write_text(str(child.pid))
    import time; time.sleep(600)
sys.exit(0 if sys.argv[1] == "ok" else 3)
"""


def stand_in(monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    def builder(_task_type: str) -> Any:
        return lambda _settings: TaskCommand([sys.executable, "-c", STAND_IN, how])

    monkeypatch.setattr(supervisor, "command_builder", builder)


def test_the_task_process_gets_no_store_url_and_the_worker_records_its_states(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid = pipelines.create_pipeline(store, {"name": "p"})
    stand_in(monkeypatch, "ok")
    attempt = pipeline_attempt(pid)
    outcome = run_attempt(attempt, tmp_path / "logs", KillSwitch(), lambda _pid: None, store)
    assert outcome.result.name == "SUCCESS", outcome.error
    env = json.loads((attempt_dir(tmp_path / "logs", attempt) / "env.json").read_text())
    assert not any(str(store.file) in value for value in env.values())
    assert "HEADRACE_DB" not in env
    (update,) = pipelines.list_updates(store, pid)
    assert update["state"] == "COMPLETED" and update["cause"] == "JOB_TASK"
    assert update["lease_until"] is None


def test_an_update_process_that_dies_without_a_word_is_failed_by_its_worker(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid = pipelines.create_pipeline(store, {"name": "p"})
    stand_in(monkeypatch, "die")
    outcome = run_attempt(
        pipeline_attempt(pid), tmp_path / "logs", KillSwitch(), lambda _pid: None, store
    )
    assert outcome.result.name == "FAILED"
    (update,) = pipelines.list_updates(store, pid)
    assert update["state"] == "FAILED"
    assert update["state_message"] == "the update's process ended (exit code 3)"


def test_the_real_update_process_reports_its_failure_through_the_worker(
    store: Store, tmp_path: Path
) -> None:
    """headrace.pipelines.update itself, failing before Spark (a missing source file)."""
    missing = str(tmp_path / "nowhere.py")
    pid = pipelines.create_pipeline(
        store, {"name": "p", "libraries": [{"file": {"path": missing}}]}
    )
    outcome = run_attempt(
        pipeline_attempt(pid), tmp_path / "logs", KillSwitch(), lambda _pid: None, store
    )
    assert outcome.result.name == "FAILED"
    assert "no such file or folder" in (outcome.error or "")
    (update,) = pipelines.list_updates(store, pid)
    assert update["state"] == "FAILED" and missing in update["state_message"]


def test_a_pipeline_task_of_an_unknown_or_busy_pipeline_fails_with_the_reason(
    store: Store, tmp_path: Path
) -> None:
    outcome = run_attempt(
        pipeline_attempt("nope"), tmp_path / "logs", KillSwitch(), lambda _pid: None, store
    )
    assert outcome.error == "pipeline_task: NotFound: The pipeline nope does not exist."
    pid = pipelines.create_pipeline(store, {"name": "p"})
    active = pipelines.new_update(store, pid)
    outcome = run_attempt(
        pipeline_attempt(pid), tmp_path / "logs", KillSwitch(), lambda _pid: None, store
    )
    assert outcome.error == (
        f"pipeline_task: ResourceConflict: An active update {active['update_id']} already "
        f"exists for pipeline {pid}; wait for it to end."
    )


@pytest.mark.parametrize(("how", "code", "state"), [("ok", 0, "COMPLETED"), ("die", 1, "FAILED")])
def test_run_update_here_starts_an_update_and_runs_it_in_this_process(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str, code: int, state: str
) -> None:
    """The one engine call both `pipelines update` and `bundle run <pipeline>` make."""
    from headrace.pipelines import owner

    def command(update_file: Path) -> list[str]:  # the update file as its last argument
        code = "import os, sys\nos.environ['HEADRACE_PIPELINE_UPDATE'] = sys.argv.pop()\n"
        return [sys.executable, "-c", code + STAND_IN, how, str(update_file)]

    monkeypatch.setattr(owner, "update_command", command)
    pid = pipelines.create_pipeline(store, {"name": "p"})
    started, exit_code = pipelines.run_update_here(
        store, tmp_path, pid, full_refresh=True, stdout=subprocess.DEVNULL
    )
    assert exit_code == code
    assert started["state"] == "QUEUED" and started["cause"] == "USER_ACTION"
    ended = pipelines.get_update(store, pid, started["update_id"])
    assert ended["state"] == state and ended["full_refresh"] is True
    assert ended["lease_until"] is None
    with pytest.raises(NotFound):
        pipelines.run_update_here(store, tmp_path, "nope")


@pytest.mark.postgres
def test_two_starts_at_once_on_postgresql_make_exactly_one_update(
    pg_schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_store(with_search_path(pg_base_url(), pg_schema))
    try:
        pid = pipelines.create_pipeline(store, {"name": "p"})
        reads = rows.updates_of

        def slow_read(conn: Any, pipeline_id: str) -> list[dict[str, Any]]:
            found = reads(conn, pipeline_id)
            time.sleep(0.3)  # both starts would see no active update without the row lock
            return found

        monkeypatch.setattr(rows, "updates_of", slow_read)
        barrier = threading.Barrier(2)
        results: list[Any] = []

        def start() -> None:
            barrier.wait()
            try:
                results.append(pipelines.new_update(store, pid)["update_id"])
            except ResourceConflict as exc:
                results.append(exc)

        threads = [threading.Thread(target=start) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        started = [r for r in results if isinstance(r, str)]
        refused = [r for r in results if isinstance(r, ResourceConflict)]
        assert len(started) == 1 and len(refused) == 1, results
        assert f"An active update {started[0]} already exists" in str(refused[0])
        monkeypatch.setattr(rows, "updates_of", reads)
        assert len(pipelines.list_updates(store, pid)) == 1
    finally:
        store.dispose()


def test_an_update_failed_by_a_reader_meanwhile_is_killed_with_its_group(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The owner's renewal finds the update ended (a reader failed it: the lease had expired,
    e.g. the store was out of reach): the update's processes are killed, not left writing."""
    monkeypatch.setattr(pipelines, "RENEW_SECONDS", 0.2)
    pid = pipelines.create_pipeline(store, {"name": "p"})
    stand_in(monkeypatch, "hang")
    attempt = pipeline_attempt(pid)
    child_pid = attempt_dir(tmp_path / "logs", attempt) / "child.pid"

    def fail_as_a_reader() -> None:
        wait_for(lambda: child_pid.is_file() and child_pid.read_text(), 60, "the child")
        (update,) = pipelines.list_updates(store, pid)
        fields = {"state": "FAILED", "state_message": pipelines.LEASE_EXPIRED}
        pipelines.set_update(store, update, **fields)

    reader = threading.Thread(target=fail_as_a_reader)
    reader.start()
    outcome = run_attempt(attempt, tmp_path / "logs", KillSwitch(), lambda _pid: None, store)
    reader.join()
    assert outcome.result.name == "FAILED"
    wait_dead(int(child_pid.read_text()), 15)
    (update,) = pipelines.list_updates(store, pid)
    assert update["state"] == "FAILED" and update["state_message"] == pipelines.LEASE_EXPIRED
    assert "no longer ours" in caplog.text and "killing its process" in caplog.text
