"""The workspace files tree: Databricks workspace paths <-> files under `HEADRACE_HOME/workspace`.

Databricks mounts the workspace at `/Workspace`, so `/Workspace/Users/me/etl.py` and
`/Users/me/etl.py` name the same object; both live at
`<home>/workspace/Workspace/Users/me/etl.py`. This module is the one place that maps paths:
the API's workspace routes, task files (`spark_python_task.python_file`,
`shell_command_task.working_directory`) and notebooks all resolve through it.

Paths are stored as given: a notebook keeps its file extension (`etl.py`, `etl.ipynb`), and an
extension-less path (`/Users/me/etl`, as Databricks names notebooks) finds it. `.` and `..`
components are refused, and so is any path that would leave the tree (e.g. via a symlink).

Light on purpose (os and pathlib only): the worker imports it to build every task command.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from headrace.errors import Conflict, NotFound, SpecError, SpecIssue

if TYPE_CHECKING:
    from headrace.config import Settings

WORKSPACE_PREFIX = "/Workspace"
# Under the root, the tree mirrors `/Workspace/...` (so the root may hold other things later).
_TREE = "Workspace"
# Top-level folders of a Databricks workspace: on a machine where `/Users/...` is not a local
# path (anywhere but macOS), such a task path means the workspace file.
_WORKSPACE_TOP = ("/Users/", "/Shared/", "/Repos/")
# The order an extension-less notebook path tries: source notebooks, then Jupyter.
NOTEBOOK_EXTENSIONS = (".py", ".ipynb", ".sql", ".scala", ".r", ".R")
LANGUAGE_EXTENSIONS = {"PYTHON": ".py", "SQL": ".sql", "SCALA": ".scala", "R": ".r"}
_EXTENSION_LANGUAGES = {".py": "PYTHON", ".sql": "SQL", ".scala": "SCALA", ".r": "R", ".R": "R"}
_NOTEBOOK_HEADER = b"Databricks notebook source"
IMPORT_FORMATS = ("SOURCE", "AUTO", "RAW", "JUPYTER")
EXPORT_FORMATS = ("SOURCE", "AUTO", "RAW", "JUPYTER")
_TMP_PREFIX = ".~headrace-"  # half-written uploads; never listed


class PathNotFound(NotFound):
    """No such workspace object."""


class PathExists(Conflict):
    """A workspace object already exists there."""


class DirectoryNotEmpty(Conflict):
    """The folder is not empty."""


# --- mapping -----------------------------------------------------------------------------------


def workspace_root(settings: Settings | None = None) -> Path:
    """Where the workspace tree lives: `<HEADRACE_HOME>/workspace` (settings' home, else env)."""
    if settings is not None:
        return settings.home / "workspace"
    from headrace.config import default_home

    return default_home() / "workspace"


def _bad(reason: str) -> SpecError:
    return SpecError([SpecIssue("path", reason)])


def normalize(workspace_path: Any) -> str:
    """The canonical form of a workspace path: absolute, no `/Workspace` prefix (`/` = root).

    Raises:
        SpecError: not a string, relative, or with `.`/`..` components or NUL characters.
    """
    if not isinstance(workspace_path, str) or not workspace_path.strip():
        raise _bad("required: an absolute workspace path like /Users/me/etl.py")
    if not workspace_path.startswith("/"):
        raise _bad(f"must be absolute (start with /), got {workspace_path!r}")
    if "\x00" in workspace_path:
        raise _bad("must not contain NUL characters")
    parts = [p for p in workspace_path.split("/") if p]
    if any(p in (".", "..") for p in parts):
        raise _bad(f"'.' and '..' are not allowed in workspace paths, got {workspace_path!r}")
    if parts and parts[0] == _TREE:
        parts = parts[1:]
    return "/" + "/".join(parts)


def is_workspace_path(path: str) -> bool:
    """True for `/Workspace` and paths under it (Databricks' mount of the workspace)."""
    return path == WORKSPACE_PREFIX or path.startswith(WORKSPACE_PREFIX + "/")


def _base(root: Path) -> Path:
    return Path(os.path.abspath(root)) / _TREE


def local_path(root: Path, workspace_path: Any) -> Path:
    """The local file or folder of a workspace path (it need not exist).

    Raises:
        SpecError: the path is invalid or would leave the workspace tree.
    """
    canonical = normalize(workspace_path)
    base = _base(root)
    candidate = base.joinpath(*canonical.split("/")[1:]) if canonical != "/" else base
    if any(len(part.encode()) > 255 for part in canonical.split("/")):
        raise _bad(f"{workspace_path!r} has a name longer than 255 bytes")
    real_base = base.resolve()
    real = candidate.resolve()
    if real != real_base and real_base not in real.parents:
        raise _bad(f"{workspace_path!r} leads outside the workspace")
    return candidate


def workspace_path_of(root: Path, local: Path, *, like: str = "/") -> str:
    """The workspace path of a local file in the tree, with `/Workspace` if `like` has it."""
    rel = local.relative_to(_base(root)).as_posix()
    return _styled("/" if rel == "." else "/" + rel, like)


def find_notebook(local: Path) -> Path | None:
    """`local` if it is a file, else the first of `local` + .py/.ipynb/.sql/.scala/.r that is."""
    if local.is_file():
        return local
    if local.suffix in NOTEBOOK_EXTENSIONS:
        return None
    for ext in NOTEBOOK_EXTENSIONS:
        candidate = local.with_name(local.name + ext)
        if candidate.is_file():
            return candidate
    return None


def resolve_notebook(root: Path, workspace_path: Any) -> Path:
    """The file of a notebook path: `/Users/me/etl` finds `etl.py`, `etl.ipynb`, ...

    Raises:
        SpecError: the path is invalid.
        PathNotFound: no such notebook.
    """
    local = local_path(root, workspace_path)
    found = find_notebook(local)
    if found is None:
        tried = ", ".join(NOTEBOOK_EXTENSIONS)
        raise PathNotFound(f"Notebook {workspace_path} doesn't exist (also tried {tried}).")
    return found


def task_local_path(path: Any, *, source: str | None = None, root: Path | None = None) -> Any:
    """The local path a task's file or folder setting means; a non-workspace path unchanged.

    `/Workspace/...` always names the workspace, as does any absolute path with
    `source: WORKSPACE` (`source: GIT` paths are left to the Git checkout). `/Users/...`, `/Shared/...`, `/Repos/...` name it when no such local
    path exists but the workspace one does (on macOS `/Users/me/etl.py` is often a local file).

    Raises:
        ValueError: an invalid workspace path (the worker reports it as "cannot start task").
    """
    if not isinstance(path, str) or not path.startswith("/") or source == "GIT":
        return path
    root = root if root is not None else workspace_root()
    try:
        if is_workspace_path(path) or source == "WORKSPACE":
            return str(local_path(root, path))
        if path.startswith(_WORKSPACE_TOP) and not os.path.exists(path):
            candidate = local_path(root, path)
            if candidate.exists():
                return str(candidate)
    except SpecError as exc:
        raise ValueError(f"workspace path {path!r}: {exc.issues[0].message}") from None
    return path


# --- objects -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkspaceObject:
    """One entry of the tree, as the Workspace API's ObjectInfo."""

    path: str
    object_type: str  # DIRECTORY, NOTEBOOK or FILE
    object_id: int
    modified_at: int
    size: int | None = None
    language: str | None = None

    def to_api(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "path": self.path,
            "object_type": self.object_type,
            "object_id": self.object_id,
            "modified_at": self.modified_at,
        }
        if self.size is not None:
            out["size"] = self.size
        if self.language is not None:
            out["language"] = self.language
        return out


def _describe(root: Path, local: Path, like: str) -> WorkspaceObject:
    stat = local.stat()
    path = workspace_path_of(root, local, like=like)
    modified = int(stat.st_mtime * 1000)
    if local.is_dir():
        return WorkspaceObject(path, "DIRECTORY", stat.st_ino, modified)
    kind, language = "FILE", None
    if local.suffix == ".ipynb":
        kind, language = "NOTEBOOK", "PYTHON"
    elif local.suffix in _EXTENSION_LANGUAGES:
        with open(local, "rb") as fh:
            if _NOTEBOOK_HEADER in fh.readline(200):
                kind, language = "NOTEBOOK", _EXTENSION_LANGUAGES[local.suffix]
    return WorkspaceObject(path, kind, stat.st_ino, modified, stat.st_size, language)


def _existing(root: Path, workspace_path: Any) -> Path:
    """The file or folder at a workspace path (a notebook also without its extension)."""
    local = local_path(root, workspace_path)
    if local == _base(root):
        local.mkdir(parents=True, exist_ok=True)  # the root always exists
        return local
    if local.is_dir():
        return local
    found = find_notebook(local)
    if found is None:
        raise PathNotFound(f"Path ({workspace_path}) doesn't exist.")
    return found


def get_status(root: Path, workspace_path: Any) -> WorkspaceObject:
    """What is at a workspace path. Raises: SpecError, PathNotFound."""
    return _describe(root, _existing(root, workspace_path), workspace_path)


def list_objects(root: Path, workspace_path: Any) -> list[WorkspaceObject]:
    """A folder's entries by name (a file path lists itself). Raises: SpecError, PathNotFound."""
    local = _existing(root, workspace_path)
    if not local.is_dir():
        return [_describe(root, local, workspace_path)]
    children = sorted(c for c in local.iterdir() if not c.name.startswith(_TMP_PREFIX))
    return [_describe(root, child, workspace_path) for child in children]


def mkdirs(root: Path, workspace_path: Any) -> None:
    """Create a folder and its parents (no error if it exists). Raises: SpecError, PathExists."""
    local = local_path(root, workspace_path)
    _check_folders(root, local, workspace_path, include_self=True)
    local.mkdir(parents=True, exist_ok=True)


def _check_folders(root: Path, local: Path, workspace_path: Any, *, include_self: bool) -> None:
    """Raise PathExists if a file sits where a folder on the way to `local` must be."""
    base = _base(root)
    chain = [local] if include_self else []
    chain += [p for p in local.parents if p == base or base in p.parents]
    for folder in chain:
        if folder.exists() and not folder.is_dir():
            where = workspace_path_of(root, folder, like=workspace_path)
            raise PathExists(f"{where} is a file, so {workspace_path} cannot be a folder.")


def delete(root: Path, workspace_path: Any, *, recursive: bool) -> None:
    """Delete a file, or a folder (non-empty ones only with `recursive`).

    Raises:
        SpecError: invalid path, or the workspace root.
        PathNotFound: nothing there.
        DirectoryNotEmpty: a non-empty folder without `recursive`.
    """
    local = _existing(root, workspace_path)
    if local == _base(root):
        raise _bad("the workspace root cannot be deleted")
    if not local.is_dir():
        local.unlink()
        return
    if recursive:
        import shutil

        shutil.rmtree(local)
        return
    if any(local.iterdir()):
        raise DirectoryNotEmpty(
            f"Folder {workspace_path} is not empty: pass recursive=true to delete it "
            "with everything in it."
        )
    local.rmdir()


def _format(value: Any, allowed: tuple[str, ...], name: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or value.upper() not in allowed:
        raise SpecError(
            [SpecIssue(name, f"{value!r} is not supported here; use one of {', '.join(allowed)}")]
        )
    return value.upper()


def import_target(workspace_path: Any, fmt: Any, language: Any) -> str:
    """Where an import stores its content: an extension-less notebook gets its extension.

    `format=JUPYTER` ensures `.ipynb`; `SOURCE` (the default) with a `language` adds that
    language's extension when the path has none; otherwise the path is kept.

    Raises:
        SpecError: invalid path, format or language.
    """
    canonical = normalize(workspace_path)
    chosen = _format(fmt, IMPORT_FORMATS, "format") or "SOURCE"
    lang = None
    if language is not None and language != "":
        if not isinstance(language, str) or language.upper() not in LANGUAGE_EXTENSIONS:
            allowed = ", ".join(LANGUAGE_EXTENSIONS)
            raise SpecError([SpecIssue("language", f"must be one of {allowed}, got {language!r}")])
        lang = language.upper()
    if canonical == "/":
        raise PathExists(f"{workspace_path} is a folder.")
    name = canonical.rsplit("/", 1)[1]
    has_extension = "." in name.lstrip(".")
    if chosen == "JUPYTER" and not name.endswith(".ipynb"):
        canonical += ".ipynb"
    elif chosen == "SOURCE" and lang is not None and not has_extension:
        canonical += LANGUAGE_EXTENSIONS[lang]
    return _styled(canonical, workspace_path)


def _styled(canonical: str, like: Any) -> str:
    """A canonical path written the way `like` is (with or without `/Workspace`)."""
    if isinstance(like, str) and is_workspace_path(like):
        return WORKSPACE_PREFIX + ("" if canonical == "/" else canonical)
    return canonical


def import_file(
    root: Path, workspace_path: Any, content: bytes, *, fmt: Any, language: Any, overwrite: bool
) -> str:
    """Store content at a workspace path (creating folders); returns the path stored at.

    Raises:
        SpecError: invalid path, format, language, or a Jupyter notebook that is not JSON.
        PathExists: something is there and `overwrite` is false, or a folder is there.
    """
    target = import_target(workspace_path, fmt, language)
    if target.endswith(".ipynb") and _format(fmt, IMPORT_FORMATS, "format") == "JUPYTER":
        _check_notebook_json(content)
    local = local_path(root, target)
    bare = local_path(root, workspace_path)
    for spot in {local, bare}:
        if spot.is_dir():
            raise PathExists(f"{workspace_path} is a folder; it cannot be replaced by a file.")
    _check_folders(root, local, target, include_self=False)
    previous = find_notebook(bare) if bare != local else None
    if not overwrite and (local.exists() or previous is not None):
        raise PathExists(f"{workspace_path} already exists; pass overwrite=true to replace it.")
    local.parent.mkdir(parents=True, exist_ok=True)
    _write_atomically(local, content)
    if previous is not None and previous != local:
        previous.unlink(missing_ok=True)  # the notebook moved to another language's extension
    return target


def _check_notebook_json(content: bytes) -> None:
    import json

    try:
        data = json.loads(content)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise SpecError([SpecIssue("content", "format JUPYTER needs an .ipynb (JSON) notebook")])


def _write_atomically(local: Path, content: bytes) -> None:
    # A task may be reading the file right now: it sees the old or the new content, never half.
    import tempfile

    fd, tmp = tempfile.mkstemp(prefix=_TMP_PREFIX, dir=local.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(content)
        os.chmod(tmp, 0o644)
        os.replace(tmp, local)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def export_file(root: Path, workspace_path: Any, fmt: Any) -> tuple[Path, bytes]:
    """A file's local path and bytes, exported as stored.

    Raises:
        SpecError: invalid path or format, a folder, or JUPYTER asked of a non-.ipynb file.
        PathNotFound: nothing there.
    """
    chosen = _format(fmt, EXPORT_FORMATS, "format")
    local = _existing(root, workspace_path)
    if local.is_dir():
        raise _bad(f"{workspace_path} is a folder; export its files one by one")
    if chosen == "JUPYTER" and local.suffix != ".ipynb":
        raise SpecError(
            [SpecIssue("format", f"{workspace_path} is not a Jupyter notebook; use SOURCE")]
        )
    return local, local.read_bytes()


def may_write(workspace_path: str, user_name: str, admin: bool) -> bool:
    """Whether a user may change a path: `/Users/<name>` and everything under it belong to that
    user (and admins); `/Users` itself only to admins (deleting it would take every user's
    folder); everything else (`/Shared`, ...) to every signed-in user. (The root can be
    deleted by nobody: `delete` refuses it.)"""
    if admin:
        return True
    parts = normalize(workspace_path).split("/")[1:]
    if parts == ["Users"]:
        return False
    if parts[0] == "Users":
        return parts[1] == user_name
    return True
