"""pipeline_task: an update of a stored pipeline, run in the task's process (headrace.pipelines)."""

from __future__ import annotations

import json
import sys
from typing import Any

from headrace.worker.tasks.base import TaskCommand


def build_command(settings: dict[str, Any]) -> TaskCommand:
    """`python -m headrace.pipelines.update --task SETTINGS` (pipeline_id, full_refresh)."""
    argv = [sys.executable, "-m", "headrace.pipelines.update", "--task", json.dumps(settings)]
    return TaskCommand(argv)
