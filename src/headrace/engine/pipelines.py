"""Pipelines (Lakeflow / Spark Declarative Pipelines): stored definitions and their updates.

A pipeline's settings are the Pipelines API's (`name`, `libraries`, `catalog`, `schema` or
`target`, `configuration`, `development`, ...). Definitions and updates are rows of the store
(`store/pipelines.py`), so the server and every worker see them; an update runs in its own
process (`headrace.pipelines.update`) on Spark Connect and records its state there as it goes.
Files of an update (its gathered sources, spec, log) and a pipeline's checkpoint storage stay
under `<HEADRACE_HOME>/pipelines/<pipeline_id>/` of the host that runs it. Pipelines kept as
JSON files by an older Headrace (`pipeline.json` there) are moved into the store the first time
`open_pipelines` sees that home.

The entry points (docs/pipelines.md): `create_pipeline`, `get_pipeline`, `list_pipelines`,
`edit_pipeline`, `delete_pipeline`, `start_update`, `run_update_here`, `get_update`,
`list_updates`, and for bundles `deploy_bundle_pipeline` / `delete_bundle_pipeline`.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from headrace.engine.pipeline_settings import (  # noqa: F401 (the API and bundles use them here)
    ACCEPTED_SETTINGS,
    LIBRARY_KINDS,
    check_settings,
)
from headrace.errors import NotFound, ResourceConflict
from headrace.store import pipelines as rows

if TYPE_CHECKING:
    from headrace.store.db import Store

TERMINAL_STATES = ("COMPLETED", "FAILED", "CANCELED")


def pipelines_dir(home: Path) -> Path:
    return Path(home) / "pipelines"


def _now_ms() -> int:
    return int(time.time() * 1000)


# --- the store ------------------------------------------------------------------------------


def open_pipelines(home: Path | None = None) -> Store:
    """The store pipelines live in for this process (`HEADRACE_DB`, else the home's SQLite
    file, as every command resolves it), with the home's old JSON pipelines moved in."""
    from headrace.config import Settings
    from headrace.store.db import open_store

    settings = Settings.load(home=str(home) if home is not None else None)
    store = open_store(settings.db_url)
    adopt_json_files(store, settings.home)
    return store


def adopt_json_files(store: Store, home: Path) -> int:
    """Move an older Headrace's JSON pipelines of `home` into the store, once (engine/
    pipeline_files.py); the number moved."""
    from headrace.engine.pipeline_files import adopt_json_files as adopt

    return adopt(store, home)


def _get(store: Store, pipeline_id: str) -> dict[str, Any]:
    with store.read() as conn:
        record = rows.get_pipeline(conn, pipeline_id)
    if record is None:
        raise NotFound(f"The pipeline {pipeline_id} does not exist.")
    return record


# --- pipelines -----------------------------------------------------------------------------


def create_pipeline(store: Store, settings: dict[str, Any], *, creator: str = "headrace") -> str:
    """Store a new pipeline; its id.

    Raises:
        SpecError: a bad setting (named); nothing is stored.
    """
    return _insert(store, check_settings(settings), creator=creator, bundle=None)


def _insert(store: Store, spec: dict[str, Any], *, creator: str, bundle: str | None) -> str:
    pipeline_id = str(uuid.uuid4())
    now = _now_ms()
    record = {
        "pipeline_id": pipeline_id,
        "name": spec.get("name") or pipeline_id,
        "spec": spec,
        "bundle": bundle,
        "creator_user_name": creator,
        "created": now,
        "last_modified": now,
    }
    with store.begin() as conn:
        rows.insert_pipeline(conn, record)
    return pipeline_id


def edit_pipeline(store: Store, pipeline_id: str, settings: dict[str, Any]) -> None:
    """Replace a pipeline's settings (PUT /pipelines/{id}).

    Raises:
        NotFound: no such pipeline. SpecError: a bad setting (nothing changed).
    """
    spec = check_settings(settings)
    with store.begin() as conn:
        name = spec.get("name") or pipeline_id
        if not rows.replace_spec(conn, pipeline_id, name, spec, _now_ms()):
            raise NotFound(f"The pipeline {pipeline_id} does not exist.")


def delete_pipeline(store: Store, pipeline_id: str, home: Path | None = None) -> None:
    """Remove a pipeline and its updates' records (its datasets stay in the catalog); with
    `home`, also this host's files of it (update folders, checkpoints).

    Raises:
        NotFound: no such pipeline.
    """
    import shutil

    with store.begin() as conn:
        if not rows.delete_pipeline(conn, pipeline_id):
            raise NotFound(f"The pipeline {pipeline_id} does not exist.")
    if home is not None:
        shutil.rmtree(_folder(home, pipeline_id), ignore_errors=True)


def get_pipeline(store: Store, pipeline_id: str) -> dict[str, Any]:
    """The Pipelines API's GetPipelineResponse.

    Raises:
        NotFound: no such pipeline.
    """
    record = _get(store, pipeline_id)
    return _response(record, list_updates(store, pipeline_id))


def _response(record: dict[str, Any], updates: list[dict[str, Any]]) -> dict[str, Any]:
    pipeline_id = record["pipeline_id"]
    running = any(u["state"] not in TERMINAL_STATES for u in updates)
    spec = {**record["spec"], "id": pipeline_id}
    return {
        "pipeline_id": pipeline_id,
        "name": spec.get("name") or pipeline_id,
        "spec": spec,
        "state": "RUNNING" if running else "IDLE",
        "health": "HEALTHY" if not updates or updates[0]["state"] != "FAILED" else "UNHEALTHY",
        "creator_user_name": record.get("creator_user_name"),
        "last_modified": record.get("last_modified"),
        "latest_updates": [
            {"update_id": u["update_id"], "state": u["state"], "creation_time": _iso(u)}
            for u in updates[:5]
        ],
    }


def _iso(update: dict[str, Any]) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(update["creation_time"] / 1000))


def list_pipelines(store: Store) -> list[dict[str, Any]]:
    """PipelineStateInfo of every pipeline, by name."""
    with store.read() as conn:
        records = rows.all_pipelines(conn)
    keys = ("pipeline_id", "name", "state", "health", "creator_user_name", "latest_updates")
    out = []
    for record in records:
        info = _response(record, list_updates(store, record["pipeline_id"]))
        out.append({k: info[k] for k in keys})
    return sorted(out, key=lambda p: (p["name"], p["pipeline_id"]))


def find_by_name(store: Store, name: str) -> str | None:
    with store.read() as conn:
        found = rows.ids_named(conn, name)
    return found[0] if found else None


def _bundle_tag(source: str, key: str) -> str:
    return f"{source}:{key}"


def deploy_bundle_pipeline(store: Store, *, key: str, source: str, spec: dict[str, Any]) -> str:
    """Create or update the pipeline of bundle resource `key` deployed from `source`; its id.

    Raises:
        SpecError: a bad setting (named); nothing is stored.
    """
    settings = {k: v for k, v in spec.items() if k in ACCEPTED_SETTINGS and k != "permissions"}
    checked = check_settings(settings)
    with store.read() as conn:
        found = rows.ids_of_bundle(conn, _bundle_tag(source, key))
    if found:
        edit_pipeline(store, found[0], settings)
        return found[0]
    return _insert(store, checked, creator="bundle", bundle=_bundle_tag(source, key))


def delete_bundle_pipeline(store: Store, *, key: str, source: str) -> str | None:
    """Remove the pipeline bundle resource `key` of `source` deployed (`bundle destroy`); its
    id, or None if there was none."""
    from headrace.config import default_home

    with store.read() as conn:
        found = rows.ids_of_bundle(conn, _bundle_tag(source, key))
    for pipeline_id in found:
        with contextlib.suppress(NotFound):  # deleted meanwhile
            delete_pipeline(store, pipeline_id, default_home())
    return found[0] if found else None


# --- updates -------------------------------------------------------------------------------


def _folder(home: Path, pipeline_id: str) -> Path:
    if not pipeline_id or "/" in pipeline_id or pipeline_id.startswith("."):
        raise NotFound(f"The pipeline {pipeline_id!r} does not exist.")
    return pipelines_dir(home) / pipeline_id


def update_folder(home: Path, pipeline_id: str, update_id: str) -> Path:
    """This host's folder of an update: gathered sources, SDP spec, output.log."""
    return _folder(home, pipeline_id) / "updates" / update_id


def storage_dir(home: Path, pipeline_id: str) -> Path:
    """The pipeline's checkpoints and state (SDP `storage`)."""
    return _folder(home, pipeline_id) / "storage"


# An active update's owner (the worker running its pipeline_task, or the server or CLI that
# started it: headrace.pipelines.owner) renews its lease every RENEW_SECONDS; past LEASE_MS
# without a renewal the owner is taken for dead (as a worker without heartbeats).
LEASE_MS = 60_000
RENEW_SECONDS = 15.0
LEASE_EXPIRED = (
    "the update's owner (the worker or server running it) stopped renewing its lease: "
    "its host or process died"
)


def new_update(
    store: Store, pipeline_id: str, *, full_refresh: bool = False, cause: str = "API_CALL"
) -> dict[str, Any]:
    """Record a QUEUED update of the pipeline, leased to the caller (who runs it, renews the
    lease and records its end: headrace.pipelines.owner).

    Raises:
        NotFound: no such pipeline. ResourceConflict: an update of it is active.
    """
    now = _now_ms()
    with store.begin() as conn:
        # The pipeline's row lock makes two starts at once queue (PostgreSQL; SQLite write
        # transactions are serial): the second sees the first's update and is refused.
        if not rows.lock_pipeline(conn, pipeline_id):
            raise NotFound(f"The pipeline {pipeline_id} does not exist.")
        record = rows.get_pipeline(conn, pipeline_id)
        assert record is not None  # locked above
        for active in rows.updates_of(conn, pipeline_id):
            if active["state"] in TERMINAL_STATES:
                continue
            if _orphaned(active, now):  # its owner died: it ends now, not blocking this one
                rows.set_active_update(
                    conn, active["update_id"], _ended_fields(active), TERMINAL_STATES
                )
                continue
            raise ResourceConflict(
                f"An active update {active['update_id']} already exists for pipeline "
                f"{pipeline_id}; wait for it to end."
            )
        update = {
            "pipeline_id": pipeline_id,
            "update_id": str(uuid.uuid4()),
            "state": "QUEUED",
            "cause": cause,
            "creation_time": now,
            "full_refresh": bool(full_refresh),
            "config": {**record["spec"], "id": pipeline_id},
            "host": socket.gethostname(),
            "pid": None,
            "lease_until": now + LEASE_MS,
        }
        rows.insert_update(conn, update)
    return update


def set_update(store: Store, update: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """Record new fields (state, state_message, pid, lease_until) of an update that is still
    active; the update with them (an update that ended meanwhile keeps its end)."""
    if "pid" in fields:
        fields["host"] = socket.gethostname()
    if fields.get("state") in TERMINAL_STATES:
        fields["lease_until"] = None
    with store.begin() as conn:
        rows.set_active_update(conn, update["update_id"], fields, TERMINAL_STATES)
    return {**update, **fields}


def renew_lease(store: Store, update: dict[str, Any]) -> bool:
    """Extend an active update's lease; False when it has ended (e.g. its lease had expired)."""
    with store.begin() as conn:
        fields = {"lease_until": _now_ms() + LEASE_MS}
        return rows.set_active_update(conn, update["update_id"], fields, TERMINAL_STATES) > 0


def start_update(
    store: Store,
    home: Path,
    pipeline_id: str,
    *,
    full_refresh: bool = False,
    cause: str = "API_CALL",
) -> str:
    """Start an update in its own background process on this host; its id. This process
    owns it (a thread records its progress and renews its lease); the update's process
    never sees the store."""
    from headrace.pipelines.owner import start_background

    update = new_update(store, pipeline_id, full_refresh=full_refresh, cause=cause)
    start_background(store, home, update)
    return str(update["update_id"])


def run_update_here(
    store: Store,
    home: Path,
    pipeline_id: str,
    *,
    full_refresh: bool = False,
    cause: str = "USER_ACTION",
    stdout: Any = None,
) -> tuple[dict[str, Any], int]:
    """Start an update and run it in this process to its end (`pipelines update`, `bundle run`
    of a pipeline); the update as recorded at its start and its process's exit code (0: it
    completed). Its output goes to `stdout` (None: this process's).

    Raises:
        NotFound: no such pipeline. ResourceConflict: an update of it is active.
    """
    from headrace.pipelines.owner import run_here

    update = new_update(store, pipeline_id, full_refresh=full_refresh, cause=cause)
    return update, run_here(store, home, update, stdout=stdout)


def _alive(update: dict[str, Any]) -> bool:
    pid = update.get("pid")
    if not isinstance(pid, int) or update.get("host") not in (None, socket.gethostname()):
        return True  # not started yet, or on another host: counts as active
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _orphaned(update: dict[str, Any], now: int) -> bool:
    """An active update nobody runs any more: its lease passed (or, for an update recorded
    before leases, its process on this host is gone)."""
    lease = update.get("lease_until")
    if lease is not None:
        return bool(lease < now)
    return not _alive(update)


def _ended_fields(update: dict[str, Any]) -> dict[str, Any]:
    message = (
        LEASE_EXPIRED if update.get("lease_until") is not None else "the update's process ended"
    )
    return {"state": "FAILED", "state_message": message, "lease_until": None}


def get_update(store: Store, pipeline_id: str, update_id: str) -> dict[str, Any]:
    """The UpdateInfo of one update.

    Raises:
        NotFound: no such pipeline or update.
    """
    _get(store, pipeline_id)
    with store.read() as conn:
        update = rows.get_update(conn, pipeline_id, update_id)
    if update is None:
        raise NotFound(f"The update {update_id} of pipeline {pipeline_id} does not exist.")
    return _settled(store, update)


def _settled(store: Store, update: dict[str, Any]) -> dict[str, Any]:
    """An active update whose owner died is FAILED (never RUNNING forever)."""
    now = _now_ms()
    if update["state"] in TERMINAL_STATES or not _orphaned(update, now):
        return update
    fields = _ended_fields(update)
    with store.begin() as conn:
        changed = rows.set_active_update(conn, update["update_id"], fields, TERMINAL_STATES)
        if not changed:  # its owner recorded its end meanwhile
            return rows.get_update(conn, update["pipeline_id"], update["update_id"]) or update
    return {**update, **fields}


def list_updates(store: Store, pipeline_id: str) -> list[dict[str, Any]]:
    """UpdateInfo of the pipeline's updates, newest first."""
    with store.read() as conn:
        updates = rows.updates_of(conn, pipeline_id)
    return [_settled(store, u) for u in updates]


def public_update(update: dict[str, Any]) -> dict[str, Any]:
    """An update as the API shows it (Headrace's own bookkeeping left out)."""
    return {k: v for k, v in update.items() if k not in ("pid", "host", "lease_until")}
