"""The run-now parse cache: reused only for the very same settings text (issue 18)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from headrace.engine import parsed_jobs
from headrace.errors import SpecError


@pytest.fixture(autouse=True)
def _empty() -> Iterator[None]:
    parsed_jobs.forget()
    yield
    parsed_jobs.forget()


def _settings(command: str = "true", **extra: Any) -> dict[str, Any]:
    task = {"task_key": "t", "shell_command_task": {"command": command}}
    return {"name": "j", "tasks": [task], **extra}


def test_the_same_settings_are_parsed_once() -> None:
    first = parsed_jobs.parsed_settings(1, _settings())
    again = parsed_jobs.parsed_settings(1, _settings())  # equal, read anew (another dict)
    assert again is first


def test_changed_settings_are_parsed_again() -> None:
    first = parsed_jobs.parsed_settings(1, _settings("true"))
    changed = parsed_jobs.parsed_settings(1, _settings("false"))
    assert changed is not first
    assert changed.tasks[0].shell_command_task is not None
    assert changed.tasks[0].shell_command_task.command == "false"


def test_values_equal_in_python_but_not_in_json_are_not_mixed_up() -> None:
    # 1 == 1.0 == True in Python; the cache compares the JSON text, where they differ.
    as_int = parsed_jobs.parsed_settings(1, _settings(timeout_seconds=1))
    as_float = parsed_jobs.parsed_settings(1, _settings(timeout_seconds=1.0))
    assert as_float is not as_int


def test_jobs_are_cached_apart() -> None:
    one = parsed_jobs.parsed_settings(1, _settings())
    two = parsed_jobs.parsed_settings(2, _settings())
    assert two is not one
    assert parsed_jobs.parsed_settings(1, _settings()) is one


def test_invalid_settings_raise_every_time() -> None:
    bad = {"name": "j", "tasks": [{"task_key": "t"}]}  # no task type
    for _ in range(2):
        with pytest.raises(SpecError):
            parsed_jobs.parsed_settings(1, bad)


def test_the_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parsed_jobs, "MAX_JOBS", 2)
    one = parsed_jobs.parsed_settings(1, _settings())
    parsed_jobs.parsed_settings(2, _settings())
    parsed_jobs.parsed_settings(3, _settings())
    assert parsed_jobs.parsed_settings(1, _settings()) is not one  # the oldest was dropped
