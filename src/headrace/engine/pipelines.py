"""Pipelines (Lakeflow / Spark Declarative Pipelines): stored definitions and their updates.

A pipeline's settings are the Pipelines API's (`name`, `libraries`, `catalog`, `schema` or
`target`, `configuration`, `development`, ...). Definitions and updates live as JSON files
under `<HEADRACE_HOME>/pipelines/<pipeline_id>/` (`pipeline.json`, `updates/<update_id>.json`),
written atomically; an update runs in its own process (`headrace.pipelines.update`) on Spark
Connect, and records its state there as it goes.

The entry points (docs/pipelines.md): `create_pipeline`, `get_pipeline`, `list_pipelines`,
`edit_pipeline`, `delete_pipeline`, `start_update`, `get_update`, `list_updates`, and
`deploy_bundle_pipeline` for `resources.pipelines` of a bundle.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from headrace.errors import NotFound, SpecError, SpecIssue

LIBRARY_KINDS = ("glob", "file", "notebook")
_REFUSED_LIBRARIES = {
    "jar": "JAR libraries are not supported in pipelines",
    "maven": "Maven libraries are not supported in pipelines",
    "whl": "wheel libraries are not supported in pipelines; use environment dependencies",
}
TERMINAL_STATES = ("COMPLETED", "FAILED", "CANCELED")
# Settings the Pipelines API has that do not change how a pipeline runs here (kept as given).
_ACCEPTED = frozenset(
    {
        "id",
        "pipeline_id",
        "name",
        "libraries",
        "catalog",
        "schema",
        "target",
        "configuration",
        "development",
        "continuous",
        "serverless",
        "channel",
        "edition",
        "photon",
        "clusters",
        "root_path",
        "storage",
        "notifications",
        "tags",
        "environment",
        "budget_policy_id",
        "allow_duplicate_names",
        "dry_run",
        "permissions",
        "run_as",
        "event_log",
        "filters",
        "deployment",
        "trigger",
        "ingestion_definition",
        "gateway_definition",
        "restart_window",
        "data_sampling",
        "parameters",
        "parent_path",
        "serverless_compute_id",
        "usage_policy_id",
        "testing",
    }
)


def pipelines_dir(home: Path) -> Path:
    return Path(home) / "pipelines"


def _now_ms() -> int:
    return int(time.time() * 1000)


def _write(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, path)


def _read(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())  # type: ignore[no-any-return]
    except (OSError, ValueError):
        return None


def check_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """The settings to store, or SpecError naming each bad field."""
    issues: list[SpecIssue] = []
    if not isinstance(settings, dict):
        raise SpecError([SpecIssue("", "pipeline settings must be a JSON object")])
    for key in settings:
        if key not in _ACCEPTED:
            issues.append(SpecIssue(key, "unknown pipeline setting"))
    name = settings.get("name")
    if name is not None and not isinstance(name, str):
        issues.append(SpecIssue("name", "must be a string"))
    for key in ("catalog", "schema", "target", "root_path"):
        if settings.get(key) is not None and not isinstance(settings[key], str):
            issues.append(SpecIssue(key, "must be a string"))
    if settings.get("schema") and settings.get("target"):
        issues.append(SpecIssue("target", "set schema or target (its older name), not both"))
    conf = settings.get("configuration")
    if conf is not None and (
        not isinstance(conf, dict) or not all(isinstance(v, str) for v in conf.values())
    ):
        issues.append(SpecIssue("configuration", "must be a mapping of strings to strings"))
    if settings.get("continuous") is True:
        issues.append(
            SpecIssue("continuous", "continuous pipelines are not supported; run updates")
        )
    libraries = settings.get("libraries") or []
    if not isinstance(libraries, list):
        issues.append(SpecIssue("libraries", "must be a list"))
        libraries = []
    for i, library in enumerate(libraries):
        issues += _library_issues(library, f"libraries[{i}]")
    if issues:
        raise SpecError(issues)
    return {k: v for k, v in settings.items() if k not in ("id", "pipeline_id", "dry_run")}


def _library_issues(library: Any, where: str) -> list[SpecIssue]:
    if not isinstance(library, dict) or len(library) != 1:
        return [SpecIssue(where, f"must name exactly one of {', '.join(LIBRARY_KINDS)}")]
    ((kind, value),) = library.items()
    if kind in _REFUSED_LIBRARIES:
        return [SpecIssue(f"{where}.{kind}", _REFUSED_LIBRARIES[kind])]
    if kind not in LIBRARY_KINDS:
        return [
            SpecIssue(f"{where}.{kind}", f"unknown library kind; use {', '.join(LIBRARY_KINDS)}")
        ]
    field = "include" if kind == "glob" else "path"
    if not isinstance(value, dict) or not isinstance(value.get(field), str) or not value[field]:
        return [SpecIssue(f"{where}.{kind}.{field}", "field required (a path)")]
    return []


# --- pipelines -----------------------------------------------------------------------------


def _folder(home: Path, pipeline_id: str) -> Path:
    if not pipeline_id or "/" in pipeline_id or pipeline_id.startswith("."):
        raise NotFound(f"The pipeline {pipeline_id!r} does not exist.")
    return pipelines_dir(home) / pipeline_id


def _record(home: Path, pipeline_id: str) -> dict[str, Any]:
    record = _read(_folder(home, pipeline_id) / "pipeline.json")
    if record is None:
        raise NotFound(f"The pipeline {pipeline_id} does not exist.")
    return record


def create_pipeline(home: Path, settings: dict[str, Any], *, creator: str = "headrace") -> str:
    """Store a new pipeline; its id.

    Raises:
        SpecError: a bad setting (named).
    """
    spec = check_settings(settings)
    pipeline_id = str(uuid.uuid4())
    now = _now_ms()
    record = {
        "pipeline_id": pipeline_id,
        "spec": spec,
        "creator_user_name": creator,
        "created": now,
        "last_modified": now,
    }
    _write(_folder(home, pipeline_id) / "pipeline.json", record)
    return pipeline_id


def edit_pipeline(home: Path, pipeline_id: str, settings: dict[str, Any]) -> None:
    """Replace a pipeline's settings (PUT /pipelines/{id}).

    Raises:
        NotFound: no such pipeline. SpecError: a bad setting.
    """
    record = _record(home, pipeline_id)
    record["spec"] = check_settings(settings)
    record["last_modified"] = _now_ms()
    _write(_folder(home, pipeline_id) / "pipeline.json", record)


def delete_pipeline(home: Path, pipeline_id: str) -> None:
    """Remove a pipeline and its updates' records (its datasets stay in the catalog)."""
    import shutil

    folder = _folder(home, pipeline_id)
    _record(home, pipeline_id)
    shutil.rmtree(folder, ignore_errors=True)


def get_pipeline(home: Path, pipeline_id: str) -> dict[str, Any]:
    """The Pipelines API's GetPipelineResponse."""
    record = _record(home, pipeline_id)
    updates = list_updates(home, pipeline_id)
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


def list_pipelines(home: Path) -> list[dict[str, Any]]:
    """PipelineStateInfo of every pipeline, by name."""
    root = pipelines_dir(home)
    out = []
    for path in sorted(root.glob("*/pipeline.json")) if root.is_dir() else []:
        try:
            info = get_pipeline(home, path.parent.name)
        except NotFound:
            continue  # deleted meanwhile
        keys = ("pipeline_id", "name", "state", "health", "creator_user_name", "latest_updates")
        out.append({k: info[k] for k in keys})
    return sorted(out, key=lambda p: (p["name"], p["pipeline_id"]))


def find_by_name(home: Path, name: str) -> str | None:
    for info in list_pipelines(home):
        if info["name"] == name:
            return str(info["pipeline_id"])
    return None


def deploy_bundle_pipeline(store: Any, *, key: str, source: str, spec: dict[str, Any]) -> str:
    """Create or update the pipeline of bundle resource `key` deployed from `source`; its id."""
    from headrace.config import default_home

    home = default_home()
    settings = {k: v for k, v in spec.items() if k in _ACCEPTED and k != "permissions"}
    tag = f"{source}:{key}"
    for path in pipelines_dir(home).glob("*/pipeline.json"):
        record = _read(path)
        if record is not None and record.get("bundle") == tag:
            edit_pipeline(home, record["pipeline_id"], settings)
            return str(record["pipeline_id"])
    pipeline_id = create_pipeline(home, settings, creator="bundle")
    record = _record(home, pipeline_id)
    record["bundle"] = tag
    _write(_folder(home, pipeline_id) / "pipeline.json", record)
    return pipeline_id


# --- updates -------------------------------------------------------------------------------


def update_path(home: Path, pipeline_id: str, update_id: str) -> Path:
    return _folder(home, pipeline_id) / "updates" / f"{update_id}.json"


def new_update(
    home: Path, pipeline_id: str, *, full_refresh: bool = False, cause: str = "API_CALL"
) -> dict[str, Any]:
    """Record a QUEUED update of the pipeline (refused while another one is active).

    Raises:
        NotFound: no such pipeline. SpecError: an update is already running.
    """
    record = _record(home, pipeline_id)
    for update in list_updates(home, pipeline_id):
        if update["state"] not in TERMINAL_STATES and _alive(update.get("pid")):
            raise SpecError(
                [SpecIssue("pipeline_id", f"update {update['update_id']} is still running")]
            )
    update = {
        "pipeline_id": pipeline_id,
        "update_id": str(uuid.uuid4()),
        "state": "QUEUED",
        "cause": cause,
        "creation_time": _now_ms(),
        "full_refresh": bool(full_refresh),
        "config": {**record["spec"], "id": pipeline_id},
    }
    _write(update_path(home, pipeline_id, update["update_id"]), update)
    return update


def set_update(home: Path, update: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """Record new fields (state, state_message, pid) of an update."""
    update = {**update, **fields}
    _write(update_path(home, update["pipeline_id"], update["update_id"]), update)
    return update


def start_update(
    home: Path, pipeline_id: str, *, full_refresh: bool = False, cause: str = "API_CALL"
) -> str:
    """Start an update in its own background process; its id."""
    update = new_update(home, pipeline_id, full_refresh=full_refresh, cause=cause)
    folder = update_path(home, pipeline_id, update["update_id"]).with_suffix("")
    folder.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, HEADRACE_HOME=str(home))
    with open(folder / "output.log", "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "headrace.pipelines.update", pipeline_id, update["update_id"]],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    set_update(home, update, pid=proc.pid)
    _reap_later(proc)
    return str(update["update_id"])


def _reap_later(proc: subprocess.Popen[bytes]) -> None:
    import threading

    threading.Thread(target=proc.wait, daemon=True).start()


def _alive(pid: Any) -> bool:
    if not isinstance(pid, int):
        return True  # not started yet: counts as active
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def get_update(home: Path, pipeline_id: str, update_id: str) -> dict[str, Any]:
    """The UpdateInfo of one update.

    Raises:
        NotFound: no such pipeline or update.
    """
    _record(home, pipeline_id)
    update = _read(update_path(home, pipeline_id, update_id))
    if update is None:
        raise NotFound(f"The update {update_id} of pipeline {pipeline_id} does not exist.")
    return _settled(home, update)


def _settled(home: Path, update: dict[str, Any]) -> dict[str, Any]:
    """An active update whose process died is FAILED (never RUNNING forever)."""
    active = update["state"] not in TERMINAL_STATES and isinstance(update.get("pid"), int)
    if active and not _alive(update["pid"]):
        message = "the update's process ended"
        return set_update(home, update, state="FAILED", state_message=message)
    return update


def list_updates(home: Path, pipeline_id: str) -> list[dict[str, Any]]:
    """UpdateInfo of the pipeline's updates, newest first."""
    folder = _folder(home, pipeline_id) / "updates"
    updates = [_read(p) for p in folder.glob("*.json")] if folder.is_dir() else []
    found = [_settled(home, u) for u in updates if u is not None]
    return sorted(found, key=lambda u: u["creation_time"], reverse=True)


def public_update(update: dict[str, Any]) -> dict[str, Any]:
    """An update as the API shows it (Headrace's own bookkeeping left out)."""
    return {k: v for k, v in update.items() if k != "pid"}
