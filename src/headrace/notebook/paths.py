"""Finding notebooks: relative, absolute and workspace paths, with or without extension.

Lookup order for a path without extension (as on Databricks, which names notebooks without
one): the path itself if it is a file, then `.py`, `.ipynb`, `.sql` (engine.workspace's
NOTEBOOK_EXTENSIONS). Relative paths start from the calling notebook's folder (`%run`,
`dbutils.notebook.run`) or the job file's folder (`notebook_path`, resolved by the loader).
"""

from __future__ import annotations

import os
from pathlib import Path

from headrace.engine.workspace import NOTEBOOK_EXTENSIONS, find_notebook, task_local_path

SUPPORTED = (".py", ".ipynb", ".sql")


class NotebookNotFound(ValueError):
    """No notebook at the path (with any of the extensions tried)."""


def resolve(path: str, *, base: Path | None = None, source: str | None = None) -> Path:
    """The notebook file that `path` names. Raises: NotebookNotFound, ValueError."""
    if not isinstance(path, str) or not path.strip():
        raise NotebookNotFound("notebook_path: required, e.g. ./etl or /Workspace/Users/me/etl")
    local = task_local_path(path, source=source)
    candidate = Path(local)
    if not candidate.is_absolute():
        candidate = (base if base is not None else Path.cwd()) / candidate
    found = find_notebook(Path(os.path.normpath(candidate)))
    if found is None:
        tried = ", ".join(e for e in NOTEBOOK_EXTENSIONS if e in SUPPORTED)
        raise NotebookNotFound(f"notebook {path!r} not found (looked for {candidate} and {tried})")
    if found.suffix not in SUPPORTED:
        raise NotebookNotFound(
            f"notebook {path!r} is {found.name}: only Python (.py, .ipynb) and SQL (.sql) "
            "notebooks run here"
        )
    return found
