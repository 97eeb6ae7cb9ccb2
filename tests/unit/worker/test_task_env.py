"""The task environment's base is made once per worker, and made again when os.environ changes."""

from __future__ import annotations

from pathlib import Path

import pytest

from headrace.worker.task_env import task_environment
from headrace.worker.tasks import TaskCommand

PAYLOAD = {"run_id": 7, "task_key": "t", "task_run_id": 1001, "attempt_number": 0}


def _env(command_env: dict[str, str] | None = None) -> dict[str, str]:
    command = TaskCommand(["true"], command_env or {}, None)
    return task_environment(command, Path("/c.json"), Path("/v.json"), PAYLOAD)


def test_worker_changes_to_its_environment_reach_the_next_task(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HEADRACE_HOME", str(tmp_path))
    monkeypatch.setenv("HEADRACE_DB", "sqlite:///secret-store.db")
    monkeypatch.setenv("HEADRACE_WAREHOUSE", "duck")
    first = _env()
    assert "HEADRACE_DB" not in first  # Headrace's own settings stay out
    assert first["HEADRACE_WAREHOUSE"] == "duck"
    assert first["HEADRACE_HOME"] == str(tmp_path)
    assert first["HEADRACE_TASK_KEY"] == "t" and first["HEADRACE_RUN_ID"] == "7"

    monkeypatch.setenv("SOME_TOOL_FLAG", "on")
    monkeypatch.delenv("HEADRACE_WAREHOUSE")
    monkeypatch.setenv("HEADRACE_HOME", str(tmp_path / "other"))
    second = _env()
    assert second["SOME_TOOL_FLAG"] == "on"
    assert "HEADRACE_WAREHOUSE" not in second
    assert second["HEADRACE_HOME"] == str(tmp_path / "other")


def test_one_task_s_variables_do_not_leak_into_the_next(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ONLY_FOR_ONE_TASK", raising=False)
    assert _env({"ONLY_FOR_ONE_TASK": "1"})["ONLY_FOR_ONE_TASK"] == "1"
    assert "ONLY_FOR_ONE_TASK" not in _env()
