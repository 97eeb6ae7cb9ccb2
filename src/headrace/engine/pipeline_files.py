"""Pipelines an older Headrace kept as JSON files under the home, moved into the store.

`<home>/pipelines/<id>/pipeline.json` and its `updates/*.json` become rows (engine.pipelines
calls this the first time a process opens a home); each file is renamed `*.json.moved` after.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import IntegrityError

from headrace.engine.pipelines import TERMINAL_STATES, _now_ms, pipelines_dir
from headrace.store import pipelines as rows

if TYPE_CHECKING:
    from headrace.store.db import Store

_ADOPTED: set[tuple[str, str]] = set()
_ADOPT_LOCK = threading.Lock()


def adopt_json_files(store: Store, home: Path) -> int:
    """Move pipelines an older Headrace kept as `<home>/pipelines/<id>/pipeline.json` (with
    their `updates/*.json`) into the store, once; each file is renamed `*.json.moved` after.
    The number of pipelines moved."""
    key = (store.url, str(home))
    with _ADOPT_LOCK:
        if key in _ADOPTED:
            return 0
        _ADOPTED.add(key)
    moved = 0
    for path in sorted(pipelines_dir(home).glob("*/pipeline.json")):
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if not isinstance(record, dict) or not isinstance(record.get("spec"), dict):
            continue
        updates = []
        for update_path in sorted(path.parent.glob("updates/*.json")):
            try:
                update = json.loads(update_path.read_text())
            except (OSError, ValueError):
                continue
            if isinstance(update, dict) and update.get("update_id"):
                updates.append((update_path, update))
        pipeline_id = str(record.get("pipeline_id") or path.parent.name)
        # IntegrityError: another process opening the same store moved it in at this moment.
        with contextlib.suppress(IntegrityError):
            moved += _adopt_one(store, pipeline_id, record, updates)
        for file in [path, *(p for p, _ in updates)]:
            with contextlib.suppress(FileNotFoundError):  # renamed by that other process
                os.replace(file, file.with_name(file.name + ".moved"))
    return moved


def _adopt_one(
    store: Store, pipeline_id: str, record: dict[str, Any], updates: list[tuple[Path, Any]]
) -> int:
    """Insert one old JSON pipeline and its updates (1), unless the store has it (0)."""
    with store.begin() as conn:
        if rows.get_pipeline(conn, pipeline_id) is None:
            rows.insert_pipeline(
                conn,
                {
                    "pipeline_id": pipeline_id,
                    "name": record["spec"].get("name") or pipeline_id,
                    "spec": record["spec"],
                    "bundle": record.get("bundle"),
                    "creator_user_name": record.get("creator_user_name"),
                    "created": record.get("created") or _now_ms(),
                    "last_modified": record.get("last_modified") or _now_ms(),
                },
            )
            for _, update in updates:
                state = update.get("state") or "FAILED"
                message = update.get("state_message")
                if state not in TERMINAL_STATES:  # its process was of the old Headrace
                    state, message = "FAILED", "the update's process ended"
                rows.insert_update(
                    conn,
                    {
                        **update,
                        "pipeline_id": pipeline_id,
                        "state": state,
                        "state_message": message,
                        "cause": update.get("cause") or "API_CALL",
                        "config": update.get("config") or record["spec"],
                        "creation_time": update.get("creation_time") or _now_ms(),
                        "host": None,
                        "pid": None,
                    },
                )
            return 1
    return 0
