"""`headrace bundle destroy`: remove what a deploy of a bundle target made on a server.

As the Databricks CLI: under the deployment lock, after a yes at the prompt (or
`--auto-approve`), delete the target's jobs and pipelines (known from its deployment state)
and its workspace folder (`${workspace.root_path}`: files, artifacts, state). Nothing is changed without the yes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from headrace.bundle.client import ApiClient
from headrace.bundle.deploy import STATE_FILE, _read_state, load_for_server
from headrace.bundle.lock import deployment_lock
from headrace.errors import Conflict, NotFound


@dataclass
class DestroyResult:
    """What a destroy removed."""

    jobs: dict[str, int]
    root_path: str
    pipelines: dict[str, str] | None = None


def destroy_bundle(
    start: Path | None,
    client: ApiClient,
    *,
    target: str | None,
    variables: Mapping[str, str],
    auto_approve: bool,
    confirm: Callable[[str], bool] | None,
    say: Callable[[str], None],
    force_lock: bool = False,
) -> DestroyResult:
    """Delete the target's deployed jobs and workspace folder. Raises: Conflict (not confirmed,
    or locked), SpecError (bundle), HeadraceError (server)."""
    user, _, bundle = load_for_server(start, client, target, variables)
    root_path = bundle.workspace["root_path"]
    state = _read_state(client, f"{bundle.workspace['state_path']}/{STATE_FILE}")
    jobs = {str(k): int(v) for k, v in state.get("jobs", {}).items()}
    pipelines = {str(k): str(v) for k, v in (state.get("pipelines") or {}).items()}
    what = (
        ", ".join(
            [f"{k} (job {v})" for k, v in jobs.items()]
            + [f"{k} (pipeline {v})" for k, v in pipelines.items()]
        )
        or "no jobs"
    )
    question = f"Destroy target '{bundle.target}': delete {what} and {root_path}?"
    if not auto_approve and not (confirm is not None and confirm(question)):
        raise Conflict(f"not destroying: {what} and {root_path} stay; confirm or --auto-approve")
    with deployment_lock(client, bundle.workspace["state_path"], user, force=force_lock):
        for key, job_id in jobs.items():
            with contextlib.suppress(NotFound):
                client.post("/api/2.2/jobs/delete", {"job_id": job_id})
            say(f"deleted job {job_id} ({key})")
        for key, pipeline_id in pipelines.items():
            with contextlib.suppress(NotFound):
                client.delete(f"/api/2.0/pipelines/{pipeline_id}")
            say(f"deleted pipeline {pipeline_id} ({key})")
        for folder in (bundle.workspace["file_path"], bundle.workspace["artifact_path"]):
            with contextlib.suppress(NotFound):
                client.post("/api/2.0/workspace/delete", {"path": folder, "recursive": True})
        with contextlib.suppress(NotFound):
            path = f"{bundle.workspace['state_path']}/{STATE_FILE}"
            client.post("/api/2.0/workspace/delete", {"path": path, "recursive": False})
    # The lock (inside the state folder) is gone now: the rest of the root can go.
    with contextlib.suppress(NotFound):
        client.post("/api/2.0/workspace/delete", {"path": root_path, "recursive": True})
    say(f"deleted {root_path}")
    return DestroyResult(jobs, root_path, pipelines)
