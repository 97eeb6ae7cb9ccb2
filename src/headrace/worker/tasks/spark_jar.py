"""spark_jar_task: spark-submit against the task's cluster (see headrace.worker.submit_runner)."""

from __future__ import annotations

import json
import sys
from typing import Any

from headrace.worker.tasks.base import TaskCommand


def build_command(settings: dict[str, Any]) -> TaskCommand:
    """`python -m headrace.worker.submit_runner SPEC` (the task's jar libraries in settings).

    The task's environment is not a Python one to build: its `java_dependencies` (serverless
    JAR tasks, e.g. the default-scala template) travel in HEADRACE_ENVIRONMENT_SPEC and join
    the jars."""
    spec = {"kind": "jar", "settings": settings}
    argv = [sys.executable, "-m", "headrace.worker.submit_runner", json.dumps(spec)]
    return TaskCommand(argv, own_environment=True)
