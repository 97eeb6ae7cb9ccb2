"""Reading Run objects and task outputs of the real `headrace` CLI in SQL tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def task(run: dict[str, Any], key: str) -> dict[str, Any]:
    for t in run["tasks"]:
        if t["task_key"] == key:
            return t
    raise AssertionError(f"no task {key!r} in run: {[t['task_key'] for t in run['tasks']]}")


def result_of(run_or_task: dict[str, Any]) -> str | None:
    return run_or_task["state"].get("result_state")


def results(run: dict[str, Any]) -> dict[str, str | None]:
    return {t["task_key"]: result_of(t) for t in run["tasks"]}


def last_attempt(run: dict[str, Any], key: str) -> dict[str, Any]:
    return task(run, key)["attempts"][-1]


def output_of(run: dict[str, Any], key: str) -> dict[str, Any]:
    """What the task reported (the attempt's output.json, which get-output returns)."""
    log_path = Path(last_attempt(run, key)["log_path"])
    return json.loads((log_path.parent / "output.json").read_text())
