"""A `pipeline_task`'s update, on the worker's side: recorded in the store before the task's
process starts, owned by the worker until it ends (headrace.pipelines.owner)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from headrace.engine import pipelines as engine
from headrace.pipelines.owner import UPDATE_ENV, UpdateWatch

if TYPE_CHECKING:
    from headrace.store.db import Store


def start_task_update(
    store: Store | None, settings: dict[str, Any], attempt_folder: Path, env: dict[str, str]
) -> UpdateWatch:
    """Record a JOB_TASK update of `settings['pipeline_id']` and watch it; `env` (the task
    process's) gets the path of its update file.

    Raises:
        NotFound: no such pipeline. ResourceConflict: one of its updates is active.
    """
    if store is None:  # a supervisor run without a worker's store: the home's, as commands
        store = engine.open_pipelines()
    pipeline_id = str(settings.get("pipeline_id") or "")
    update = engine.new_update(
        store, pipeline_id, full_refresh=bool(settings.get("full_refresh")), cause="JOB_TASK"
    )
    watch = UpdateWatch(store, update, attempt_folder)
    env[UPDATE_ENV] = str(watch.update_file)
    return watch
