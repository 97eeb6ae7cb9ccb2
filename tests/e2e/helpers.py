"""Helpers for end-to-end tests: read the Run objects of the real `headrace` CLI.

The CLI driver (`Headrace`, the `hr` fixture) and the process helpers are in tests/support.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"


# --- reading a Run object ------------------------------------------------------------------


def task(run: dict[str, Any], key: str) -> dict[str, Any]:
    for t in run["tasks"]:
        if t["task_key"] == key:
            return t
    raise AssertionError(f"no task {key!r} in run: {[t['task_key'] for t in run['tasks']]}")


def result_of(run_or_task: dict[str, Any]) -> str | None:
    return run_or_task["state"].get("result_state")


def results(run: dict[str, Any]) -> dict[str, str | None]:
    return {t["task_key"]: result_of(t) for t in run["tasks"]}


def attempts(t: dict[str, Any]) -> list[dict[str, Any]]:
    return t.get("attempts", [])
