"""The deployment lock: one deploy (or destroy) of a bundle target at a time, as the CLI's.

The lock is a file, `${workspace.state_path}/deploy.lock`, created on the server with
`overwrite: false`, so of two deploys starting together exactly one creates it; the other stops
at once naming who holds it and since when. `--force-lock` takes it anyway (for a lock left by a
deploy that was killed). It is removed when the deploy ends, failed or not.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import uuid
from collections.abc import Iterator
from typing import Any

from headrace.bundle.client import ApiClient
from headrace.errors import Conflict, NotFound

LOCK_FILE = "deploy.lock"


class DeployLocked(Conflict):
    """Another deploy of this bundle target holds the deployment lock."""


@contextlib.contextmanager
def deployment_lock(
    client: ApiClient, state_path: str, user: str, *, force: bool
) -> Iterator[None]:
    """Hold the target's deployment lock for the block. Raises: DeployLocked."""
    path = f"{state_path}/{LOCK_FILE}"
    mine = {
        "ID": str(uuid.uuid4()),
        "AcquisitionTime": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "IsForced": force,
        "User": user,
    }
    try:
        _write(client, path, mine, overwrite=False)
    except Conflict:
        held = read_lock(client, path) or {}
        if not force:
            raise DeployLocked(
                f"the deployment lock {path} is held by {held.get('User', 'someone')} since "
                f"{held.get('AcquisitionTime', '?')}; wait for that deploy to end, or pass "
                "--force-lock if it was killed"
            ) from None
        _write(client, path, mine, overwrite=True)
    try:
        yield
    finally:
        current = read_lock(client, path)
        if current is not None and current.get("ID") == mine["ID"]:
            with contextlib.suppress(NotFound):
                client.post("/api/2.0/workspace/delete", {"path": path, "recursive": False})


def read_lock(client: ApiClient, path: str) -> dict[str, Any] | None:
    """The lock file's content, or None when there is none."""
    try:
        exported = client.get("/api/2.0/workspace/export", path=path, format="RAW")
    except NotFound:
        return None
    try:
        data = json.loads(base64.b64decode(exported.get("content", "")))
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _write(client: ApiClient, path: str, data: dict[str, Any], *, overwrite: bool) -> None:
    content = base64.b64encode(json.dumps(data).encode()).decode()
    client.post(
        "/api/2.0/workspace/import",
        {"path": path, "content": content, "format": "RAW", "overwrite": overwrite},
    )
