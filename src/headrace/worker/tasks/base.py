"""The one interface every process task type implements."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class TaskCommand:
    """How to start an attempt's process: argv, extra environment, working directory."""

    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    cwd: str | None = None
    # The process builds the task's environment itself (dbt_task: the spec travels in
    # HEADRACE_ENVIRONMENT_SPEC) instead of being started by the environment's python.
    own_environment: bool = False
