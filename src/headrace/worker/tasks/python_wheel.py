"""python_wheel_task: an installed distribution's entry point, called in a fresh interpreter."""

from __future__ import annotations

import sys
from typing import Any

from headrace.worker.tasks.base import TaskCommand
from headrace.worker.tasks.python_env import python_task_env


def build_command(settings: dict[str, Any]) -> TaskCommand:
    """`python -m headrace.runtime.wheel_entry PACKAGE ENTRY_POINT ARGS...`."""
    named = settings.get("named_parameters")
    if named:
        args = [f"--{k}={v}" for k, v in named.items()]
    else:
        args = [str(p) for p in settings.get("parameters") or []]
    argv = [sys.executable, "-m", "headrace.runtime.wheel_entry"]
    return TaskCommand(
        [*argv, settings["package_name"], settings["entry_point"], *args], env=python_task_env()
    )
