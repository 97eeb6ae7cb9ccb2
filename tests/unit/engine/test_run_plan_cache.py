"""Run plans are parsed once per settings text (issue 18): every run of a job shares one."""

from __future__ import annotations

import json

import pytest

from headrace.engine import run_plan


def _text(command: str) -> str:
    task = {"task_key": "t", "shell_command_task": {"command": command}}
    return json.dumps({"name": "j", "tasks": [task]})


def test_the_same_text_gives_the_same_plan() -> None:
    first = run_plan.plan_from_json(_text("echo same"))
    assert run_plan.plan_from_json(_text("echo same")) is first
    other = run_plan.plan_from_json(_text("echo other"))
    assert other is not first
    command = other.tasks["t"].shell_command_task
    assert command is not None and command.command == "echo other"


def test_the_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(run_plan, "MAX_PLANS", 2)
    first = run_plan.plan_from_json(_text("echo a"))
    run_plan.plan_from_json(_text("echo b"))
    run_plan.plan_from_json(_text("echo c"))
    assert len(run_plan._plans) <= 2
    assert run_plan.plan_from_json(_text("echo a")) is not first


def test_invalid_settings_still_raise() -> None:
    for _ in range(2):
        with pytest.raises(ValueError):  # pydantic's ValidationError is a ValueError
            run_plan.plan_from_json(json.dumps({"name": "j", "tasks": "not a list"}))
