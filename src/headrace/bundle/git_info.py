"""`${bundle.git.*}`: the bundle folder's git checkout, as the Databricks CLI reads it.

As the CLI's `LoadGitDetails` mutator: `branch` and `origin_url` set in the bundle (or its target's
`git` section) win; otherwise they, and `commit`, come from the checkout the bundle lives in.
`actual_branch` is always the checked-out branch; `bundle_root_path` is the bundle's folder
relative to the checkout's top. Outside a checkout every value is empty (no error, as the CLI).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

GIT_TIMEOUT_SECONDS = 10


def git_details(root: Path, configured: Mapping[str, Any] | None) -> dict[str, str]:
    """The `bundle.git` mapping for the bundle folder `root`."""
    given = dict(configured or {})
    top = _git(root, "rev-parse", "--show-toplevel")
    branch = _git(root, "rev-parse", "--abbrev-ref", "HEAD") if top else ""
    if branch == "HEAD":
        branch = ""  # a detached checkout has no branch
    details = {
        "actual_branch": branch,
        "branch": str(given.get("branch") or branch),
        "commit": str(given.get("commit") or (_git(root, "rev-parse", "HEAD") if top else "")),
        "origin_url": str(
            given.get("origin_url")
            or (_git(root, "config", "--get", "remote.origin.url") if top else "")
        ),
        "bundle_root_path": _relative(root, top) if top else ".",
    }
    return details


def _relative(root: Path, top: str) -> str:
    try:
        return Path(os.path.relpath(root.resolve(), Path(top).resolve())).as_posix()
    except ValueError:
        return "."


def _git(root: Path, *args: str) -> str:
    try:
        proc = subprocess.run(
            ["git", "-C", str(root), *args],
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_SECONDS,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return proc.stdout.strip() if proc.returncode == 0 else ""
