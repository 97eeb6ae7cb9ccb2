"""dbt_task: dbt-core's commands in the task's dbt environment (see headrace.dbt.runner)."""

from __future__ import annotations

import json
import sys
from typing import Any

from headrace.worker.tasks.base import TaskCommand


def build_command(settings: dict[str, Any]) -> TaskCommand:
    """`python -m headrace.dbt.runner SETTINGS`: it builds the dbt environment itself."""
    argv = [sys.executable, "-m", "headrace.dbt.runner", json.dumps(settings, ensure_ascii=False)]
    return TaskCommand(argv, own_environment=True)
