"""The environment variables of a task's process (what the supervisor and replay start).

Built per attempt from a base made once per worker: the worker's own environment without
Headrace's settings. Rebuilding that base for every attempt (decoding and filtering every
variable) was a measurable share of an attempt's Python (issue 18).
"""

from __future__ import annotations

import os
from pathlib import Path

from headrace.config import default_home
from headrace.worker.tasks import TaskCommand

# Where `import headrace` comes from. Task processes use the same interpreter, so an installed
# Headrace is importable there anyway; only a bare source checkout has to be put on the path
# (putting site-packages first would shadow a task's own environment).
_PACKAGE_ROOT = Path(__file__).resolve().parents[2]
_EXTRA_PATH = (
    None if _PACKAGE_ROOT.name in ("site-packages", "dist-packages") else str(_PACKAGE_ROOT)
)

# (a copy of os.environ's raw bytes, the task environment's base made from it): reused while
# the worker's environment is unchanged, since decoding and filtering every variable again is a
# measurable share of an attempt's Python (issue 18).
_base_env_cache: tuple[dict[bytes, bytes], dict[str, str]] | None = None


def _base_environment() -> dict[str, str]:
    """The worker's environment as a task sees it (a new dict: the caller may change it)."""
    global _base_env_cache
    # os.environ's raw mapping (CPython, POSIX): compared as one C-level dict equality.
    raw = getattr(os.environ, "_data", None)
    cached = _base_env_cache
    if raw is not None and cached is not None and cached[0] == raw:
        return dict(cached[1])
    # Headrace's own settings (store URL, home) are not the task's business, except where SQL
    # warehouses are (sql_task, notebook %sql): the home holds the embedded DuckDB warehouse
    # and warehouses.yml; HEADRACE_WAREHOUSE* name the configured ones.
    snapshot = dict(raw) if isinstance(raw, dict) else None
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("HEADRACE_") or k.startswith("HEADRACE_WAREHOUSE")
    }
    base["HEADRACE_HOME"] = str(default_home())
    if snapshot is not None:
        _base_env_cache = (snapshot, base)
    return dict(base)


def task_environment(
    command: TaskCommand, context_path: str | Path, values_path: str | Path, payload: dict
) -> dict[str, str]:
    """The environment of an attempt's process: the worker's (without Headrace's own
    settings), the task type's variables, and where the attempt's files are."""
    env = _base_environment()
    env.update(command.env)
    if _EXTRA_PATH is not None:
        path = env.get("PYTHONPATH")
        env["PYTHONPATH"] = _EXTRA_PATH + (os.pathsep + path if path else "")
    env["HEADRACE_CONTEXT"] = str(context_path)
    env["HEADRACE_TASK_VALUES"] = str(values_path)
    env["HEADRACE_RUN_ID"] = str(payload["run_id"])
    env["HEADRACE_TASK_KEY"] = payload["task_key"]
    env["HEADRACE_TASK_RUN_ID"] = str(payload["task_run_id"])
    env["HEADRACE_ATTEMPT_NUMBER"] = str(payload["attempt_number"])
    return env


__all__ = ["task_environment"]
