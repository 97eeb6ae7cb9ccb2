"""Finding notebooks: relative, absolute and workspace paths, with or without extension.

Lookup order for a path without extension (as on Databricks, which names notebooks without
one): the path itself if it is a file, then `.py`, `.ipynb`, `.sql` (engine.workspace's
NOTEBOOK_EXTENSIONS). Relative paths start from the calling notebook's folder (`%run`,
`dbutils.notebook.run`) or the job file's folder (`notebook_path`, resolved by the loader).
Absolute paths: `/Workspace/...` (or any, with `source: WORKSPACE`) is the workspace;
`/Users/...`, `/Shared/...`, `/Repos/...` are the local path if a notebook is there, else the
workspace's (the workspace's first when the calling notebook itself lives in the workspace).
"""

from __future__ import annotations

import os
from pathlib import Path

from headrace.engine.workspace import (
    NOTEBOOK_EXTENSIONS,
    find_notebook,
    is_workspace_path,
    local_path,
    workspace_root,
)
from headrace.errors import SpecError

SUPPORTED = (".py", ".ipynb", ".sql")
_WORKSPACE_TOP = ("/Users/", "/Shared/", "/Repos/")


class NotebookNotFound(ValueError):
    """No notebook at the path (with any of the extensions tried)."""


def _in_workspace(path: str) -> Path:
    try:
        return local_path(workspace_root(), path)
    except SpecError as exc:
        raise NotebookNotFound(f"workspace path {path!r}: {exc.issues[0].message}") from None


def _candidates(path: str, base: Path | None, source: str | None) -> list[Path]:
    if not path.startswith("/"):
        return [Path(os.path.normpath((base if base is not None else Path.cwd()) / path))]
    if source == "GIT":
        return [Path(path)]
    if is_workspace_path(path) or source == "WORKSPACE":
        return [_in_workspace(path)]
    if path.startswith(_WORKSPACE_TOP):
        ours = [Path(path), _in_workspace(path)]
        root = workspace_root().resolve()
        caller_in_workspace = base is not None and root in base.resolve().parents
        return ours[::-1] if caller_in_workspace else ours
    return [Path(path)]


def resolve(path: str, *, base: Path | None = None, source: str | None = None) -> Path:
    """The notebook file that `path` names. Raises: NotebookNotFound."""
    if not isinstance(path, str) or not path.strip():
        raise NotebookNotFound("notebook_path: required, e.g. ./etl or /Workspace/Users/me/etl")
    candidates = _candidates(path, base, source)
    found = next((f for f in map(find_notebook, candidates) if f is not None), None)
    if found is None:
        tried = ", ".join(e for e in NOTEBOOK_EXTENSIONS if e in SUPPORTED)
        where = " or ".join(str(c) for c in candidates)
        raise NotebookNotFound(f"notebook {path!r} not found (looked for {where} and {tried})")
    if found.suffix not in SUPPORTED:
        raise NotebookNotFound(
            f"notebook {path!r} is {found.name}: only Python (.py, .ipynb) and SQL (.sql) "
            "notebooks run here"
        )
    return found
