"""spark_jar_task: spark-submit against the task's cluster (see headrace.worker.submit_runner)."""

from __future__ import annotations

import json
import sys
from typing import Any

from headrace.worker.tasks.base import TaskCommand


def build_command(settings: dict[str, Any]) -> TaskCommand:
    """`python -m headrace.worker.submit_runner SPEC` (the task's jar libraries in settings)."""
    spec = {"kind": "jar", "settings": settings}
    argv = [sys.executable, "-m", "headrace.worker.submit_runner", json.dumps(spec)]
    return TaskCommand(argv)
