"""`headrace runs replay RUN TASK`: run one recorded attempt again, here (issue 16)."""

from __future__ import annotations

import json
import sys

from headrace.config import Settings


def replay(
    db: str | None, run_id: int, task: str, *, attempt: int | None, pdb: bool, here: bool
) -> int:
    """Replay and return the task process's exit code."""
    from headrace.engine.replay import recorded_attempt, summary
    from headrace.store.db import open_store
    from headrace.worker.replay import replay as run_again

    settings = Settings.load(db=db)
    store = open_store(settings.db_url)
    try:
        recorded = recorded_attempt(store, run_id, task, attempt)
    finally:
        store.dispose()  # the replay itself never touches the store
    info = summary(recorded)
    err = sys.stderr.write
    err(
        f"[headrace] replaying {info['task_key']} attempt {info['attempt_number']} of run"
        f" {run_id} ({info['task_type']}; originally {info['original_result'] or 'unfinished'},"
        f" exit code {info['original_exit_code']}) with its recorded inputs\n"
    )
    if info["parameters"]:
        err(f"[headrace] parameters: {json.dumps(info['parameters'])}\n")
    if info["upstream_task_values"]:
        err(f"[headrace] upstream task values: {json.dumps(info['upstream_task_values'])}\n")
    sys.stderr.flush()
    done = run_again(recorded, settings.home, settings.logs_dir, pdb=pdb, here=here)
    err(f"[headrace] replay exited with code {done['exit_code']}")
    err(f" (original: {done['original_exit_code']})\n")
    if done["task_values"]:
        err(f"[headrace] task values set (not stored): {json.dumps(done['task_values'])}\n")
    err(f"[headrace] replay files: {done['folder']}\n")
    return int(done["exit_code"]) if done["exit_code"] >= 0 else 1
