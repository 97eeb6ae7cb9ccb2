"""`headrace bundle deploy --server URL`: a bundle's target onto a server, idempotently.

As the Databricks CLI does: build the artifacts, upload the bundle's files to the target's
`workspace.file_path`, point the jobs' file paths there, then create or reset each job and
remember `resource key -> job id` in a state file under `workspace.state_path`. The next deploy
of the same bundle and target updates those jobs in place; jobs the bundle no longer has are
deleted after a confirmation (or `--auto-approve`). Each job gets the bundle's permissions
(bundle, target and job level); schemas, volumes and secret scopes are created through the
server's APIs when it has them; pipelines are created or edited through its Pipelines API
(remembered in the state as jobs are, so `${resources.pipelines.<key>.id}` names them and
`pipelines list` shows them), and the ones the bundle no longer has are deleted. A deployment lock (`lock.py`) keeps deploys of one target apart.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from headrace.bundle.artifact_files import upload as upload_artifact_files
from headrace.bundle.artifacts import build_artifacts
from headrace.bundle.client import ApiClient
from headrace.bundle.loader import Bundle, load_bundle
from headrace.bundle.lock import deployment_lock
from headrace.bundle.sync import bundle_files, sync_root
from headrace.errors import Conflict, HeadraceError, NotFound

STATE_FILE = "deployment.json"


@dataclass
class DeployResult:
    """What a deploy did."""

    jobs: dict[str, int]
    created: list[str]
    updated: list[str]
    deleted: list[str]
    uploaded: int
    removed_files: int
    warnings: list[str]
    pipelines: dict[str, str] | None = None  # resource key -> pipeline id


def deploy_bundle(
    start: Path | None,
    client: ApiClient,
    *,
    target: str | None,
    variables: Mapping[str, str],
    auto_approve: bool,
    confirm: Callable[[str], bool] | None,
    say: Callable[[str], None],
    force_lock: bool = False,
) -> DeployResult:
    """Deploy the bundle's target. Raises: SpecError (bundle), Conflict (deletion refused,
    DeployLocked), PermissionDenied / NotFound / HeadraceError (server)."""
    user, env, bundle = load_for_server(start, client, target, variables)
    build_artifacts(bundle, say)
    bundle = load_bundle(start, target=target, variables=variables, env=env, local=False)
    with deployment_lock(client, bundle.workspace["state_path"], user, force=force_lock):
        # Before the jobs: a job naming ${workspace.artifact_path}/.internal/<file> finds it.
        upload_artifact_files(bundle, client, say)
        return _deploy_locked(
            start,
            client,
            bundle,
            variables,
            env,
            auto_approve=auto_approve,
            confirm=confirm,
            say=say,
        )


def load_for_server(
    start: Path | None, client: ApiClient, target: str | None, variables: Mapping[str, str]
) -> tuple[str, dict[str, str], Bundle]:
    """The server's user, the environment naming it, and the target loaded for that server.

    `${workspace.current_user.userName}` and the root path depend on who the token is, so the
    bundle is loaded only after asking the server.
    """
    user = client.get("/api/2.0/preview/scim/v2/Me")["userName"]
    env = {**os.environ, "DATABRICKS_USER": user}
    return user, env, load_bundle(start, target=target, variables=variables, env=env, local=False)


def _deploy_locked(
    start: Path | None,
    client: ApiClient,
    bundle: Bundle,
    variables: Mapping[str, str],
    env: Mapping[str, str],
    *,
    auto_approve: bool,
    confirm: Callable[[str], bool] | None,
    say: Callable[[str], None],
) -> DeployResult:
    target = bundle.target
    state_path = f"{bundle.workspace['state_path']}/{STATE_FILE}"
    state = _read_state(client, state_path)

    ids: dict[str, int] = {}
    for key, job_id in state.get("jobs", {}).items():
        try:
            client.get("/api/2.2/jobs/get", job_id=job_id)
        except NotFound:
            continue  # deleted behind the bundle's back: create it again
        ids[key] = int(job_id)
    removed = sorted(k for k in ids if k not in bundle.jobs)
    pipelines = _known_pipelines(client, state)
    gone = sorted(k for k in pipelines if k not in (bundle.resources.get("pipelines") or {}))
    if removed or gone:
        what = ", ".join(
            [f"{k} (job {ids[k]})" for k in removed]
            + [f"{k} (pipeline {pipelines[k]})" for k in gone]
        )
        question = f"This deploy deletes what the bundle no longer has: {what}. Go on?"
        if not auto_approve and not (confirm is not None and confirm(question)):
            raise Conflict(f"not deploying: it would delete {what}; run again with --auto-approve")

    uploaded, deleted_files, hashes = _sync_files(client, bundle, state.get("files", {}), say)
    _create_catalog_objects(client, bundle, say)

    def remember() -> None:  # at once: a deploy that fails later still knows these next time
        state = {"version": 1, "jobs": ids, "pipelines": pipelines, "files": hashes}
        _write_state(client, state_path, state)

    _deploy_pipelines(client, bundle, pipelines, remember, say)
    created = [k for k in bundle.jobs if k not in ids]
    for key in created:
        settings = _settings_json(bundle, key)
        ids[key] = int(client.post("/api/2.2/jobs/create", settings)["job_id"])
        remember()
        say(f"created job {ids[key]} for {key}")
    # With every job's and pipeline's id known, references to them resolve for real.
    resource_ids = {**ids, **{f"pipelines.{k}": v for k, v in pipelines.items()}}
    bundle = load_bundle(
        start, target=target, variables=variables, env=env, local=False, resource_ids=resource_ids
    )
    updated = []
    for key, job in bundle.jobs.items():
        client.post(
            "/api/2.2/jobs/reset", {"job_id": ids[key], "new_settings": _settings_json(bundle, key)}
        )
        if job.permissions:
            acl = [
                {**{k: v for k, v in p.items() if k != "level"}, "permission_level": p["level"]}
                for p in job.permissions
            ]
            client.put(f"/api/2.0/permissions/jobs/{ids[key]}", {"access_control_list": acl})
        if key not in created:
            updated.append(key)
            say(f"updated job {ids[key]} for {key}")
    for key in removed:
        with contextlib.suppress(NotFound):
            client.post("/api/2.2/jobs/delete", {"job_id": ids[key]})
        say(f"deleted job {ids[key]} ({key})")
        del ids[key]
    for key in gone:
        with contextlib.suppress(NotFound):
            client.delete(f"/api/2.0/pipelines/{pipelines[key]}")
        say(f"deleted pipeline {pipelines[key]} ({key})")
        del pipelines[key]
    remember()
    result = DeployResult(ids, created, updated, removed, uploaded, deleted_files, bundle.warnings)
    result.pipelines = dict(pipelines)
    return result


def _known_pipelines(client: ApiClient, state: Mapping[str, Any]) -> dict[str, str]:
    """The state's pipelines that still exist on the server (`key -> pipeline id`)."""
    known = {}
    for key, pipeline_id in (state.get("pipelines") or {}).items():
        try:
            client.get(f"/api/2.0/pipelines/{pipeline_id}")
        except NotFound:
            continue  # deleted behind the bundle's back: created again
        known[str(key)] = str(pipeline_id)
    return known


def _deploy_pipelines(
    client: ApiClient,
    bundle: Bundle,
    pipelines: dict[str, str],
    remember: Callable[[], None],
    say: Callable[[str], None],
) -> None:
    """Create or edit each pipeline of the bundle on the server (`pipelines` updated)."""
    from headrace.engine.pipelines import ACCEPTED_SETTINGS

    for key, spec in (bundle.resources.get("pipelines") or {}).items():
        # Settings Headrace has no use for (permissions, lifecycle...) stay out, as on run.
        body = {
            k: v
            for k, v in spec.items()
            if k in ACCEPTED_SETTINGS and k not in ("permissions", "id", "pipeline_id")
        }
        body = _to_workspace_paths(body, bundle)
        body.setdefault("name", key)
        if key in pipelines:
            client.put(f"/api/2.0/pipelines/{pipelines[key]}", body)
            say(f"updated pipeline {pipelines[key]} for {key}")
            continue
        created = client.post("/api/2.0/pipelines", {**body, "allow_duplicate_names": True})
        pipelines[key] = str(created["pipeline_id"])
        remember()
        say(f"created pipeline {pipelines[key]} for {key}")


def deployed_job_id(
    start: Path | None,
    client: ApiClient,
    *,
    target: str | None,
    variables: Mapping[str, str],
    key: str,
) -> int:
    """The server's job id for a bundle job key, from the target's deployment state."""
    user = client.get("/api/2.0/preview/scim/v2/Me")["userName"]
    env = {**os.environ, "DATABRICKS_USER": user}
    bundle = load_bundle(start, target=target, variables=variables, env=env, local=False)
    if key not in bundle.jobs:
        known = ", ".join(bundle.jobs) or "none"
        raise NotFound(f"the bundle has no job '{key}' (it has: {known})")
    state = _read_state(client, f"{bundle.workspace['state_path']}/{STATE_FILE}")
    job_id = state.get("jobs", {}).get(key)
    if job_id is None:
        raise NotFound(
            f"job '{key}' of target '{bundle.target}' is not deployed; run `headrace bundle deploy`"
        )
    return int(job_id)


def _settings_json(bundle: Bundle, key: str) -> dict[str, Any]:
    from headrace.engine.run_plan import settings_to_json

    settings = json.loads(settings_to_json(bundle.jobs[key].settings))
    return _to_workspace_paths(settings, bundle)


def _to_workspace_paths(value: Any, bundle: Bundle) -> Any:
    """Local paths inside the bundle folder, as paths under the target's workspace file path."""
    root = str(sync_root(bundle.root, bundle.sync.get("paths")))
    files = bundle.workspace["file_path"]
    if isinstance(value, dict):
        return {k: _to_workspace_paths(v, bundle) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_workspace_paths(v, bundle) for v in value]
    if isinstance(value, str):
        flag, sep, rest = value.partition(" ")
        if sep and flag in ("-e", "--editable", "-r", "--requirement", "-c", "--constraint"):
            return f"{flag} {_to_workspace_paths(rest, bundle)}"
        if value == root or value.startswith(root + os.sep):
            return files + value[len(root) :]
    return value


def _create_catalog_objects(client: ApiClient, bundle: Bundle, say: Callable[[str], None]) -> None:
    """Schemas, volumes and secret scopes through the server's APIs; a server without them gets
    a warning (they are then made by `headrace bundle run` on that machine)."""
    from headrace.bundle.resources import catalog_objects

    endpoints = {
        "schemas": "/api/2.1/unity-catalog/schemas",
        "volumes": "/api/2.1/unity-catalog/volumes",
        "secret_scopes": "/api/2.0/secrets/scopes/create",
    }
    for kind, key, fields in catalog_objects(bundle.resources):
        body = {k: v for k, v in fields.items() if k not in ("permissions", "grants", "lifecycle")}
        body.setdefault("name", key)
        if kind == "secret_scopes":
            body = {"scope": body["name"]}
        elif kind == "volumes":
            body.setdefault("volume_type", "MANAGED")
        try:
            client.post(endpoints[kind], body)
            say(f"created {kind[:-1].replace('_', ' ')} {body.get('name') or body.get('scope')}")
        except Conflict:
            pass  # it exists already
        except (NotFound, HeadraceError) as exc:
            say(f"warning: resources.{kind}.{key}: not created on the server ({exc})")


def _sync_files(
    client: ApiClient, bundle: Bundle, known: dict[str, str], say: Callable[[str], None]
) -> tuple[int, int, dict[str, str]]:
    """Upload new and changed files; delete the ones gone. Returns (uploaded, deleted, hashes)."""
    base = bundle.workspace["file_path"]
    hashes: dict[str, str] = {}
    uploaded = 0
    for rel, path in bundle_files(bundle.root, bundle.sync):
        content = path.read_bytes()
        digest = hashlib.sha256(content).hexdigest()
        hashes[rel] = digest
        if known.get(rel) == digest:
            continue
        client.post(
            "/api/2.0/workspace/import",
            {
                "path": f"{base}/{rel}",
                "content": base64.b64encode(content).decode(),
                "format": "RAW",
                "overwrite": True,
            },
        )
        uploaded += 1
    deleted = 0
    for rel in sorted(set(known) - set(hashes)):
        with contextlib.suppress(NotFound):
            client.post("/api/2.0/workspace/delete", {"path": f"{base}/{rel}", "recursive": False})
        deleted += 1
    say(f"uploaded {uploaded} file(s) to {base}" + (f", removed {deleted}" if deleted else ""))
    return uploaded, deleted, hashes


def _read_state(client: ApiClient, path: str) -> dict[str, Any]:
    try:
        exported = client.get("/api/2.0/workspace/export", path=path, format="RAW")
    except NotFound:
        return {}
    try:
        state = json.loads(base64.b64decode(exported["content"]))
    except (KeyError, ValueError) as exc:
        raise HeadraceError(
            f"the deployment state {path} is unreadable ({exc}); remove it"
        ) from None
    return state if isinstance(state, dict) else {}


def _write_state(client: ApiClient, path: str, state: dict[str, Any]) -> None:
    content = base64.b64encode(json.dumps(state, indent=2).encode()).decode()
    client.post(
        "/api/2.0/workspace/import",
        {"path": path, "content": content, "format": "RAW", "overwrite": True},
    )
