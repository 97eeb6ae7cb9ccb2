"""The file root behind the DBFS API 2.0 and the Files API: one folder of the data directory.

`<HEADRACE_HOME>/dbfs/` is DBFS's root, the same folder `dbutils.fs` reads for `dbfs:/` paths
(runtime/fs.py). Paths map as on Databricks:

| the client writes | on disk |
|---|---|
| DBFS API `/a/b`, `dbfs:/a/b` | `<home>/dbfs/a/b` |
| Files API `/Volumes/c/s/v/f`, DBFS `/Volumes/c/s/v/f` | `<home>/dbfs/Volumes/c/s/v/f` |
| Files API `/dbfs/a/b` | `<home>/dbfs/a/b` |

Who may write (Headrace keeps no per-file ACLs): every user may read everything and write DBFS
paths, as in Databricks' DBFS root; `/Volumes/...` is written by admins only (a volume is a
governed object on Databricks; per-path grants are not emulated).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from headrace.engine.workspace import DirectoryNotEmpty, PathExists
from headrace.errors import NotFound, PermissionDenied, SpecError, SpecIssue

DBFS_DIR = "dbfs"
VOLUMES = "Volumes"
# Databricks' limits: a DBFS `put`/`add-block`/`read` carries at most 1 MB; a single-shot
# Files API upload at most 5 GiB.
MAX_BLOCK_BYTES = 1 << 20
MAX_FILE_BYTES = 5 << 30


# The Workspace API's errors: 409 RESOURCE_ALREADY_EXISTS and 400 DIRECTORY_NOT_EMPTY.
FileExists = PathExists


def NotADirectory(message: str) -> SpecError:
    """A file where a directory is needed, or the other way round (400)."""
    return _bad("path", message)


@dataclass(frozen=True)
class FileStatus:
    """A file or directory of the root, as the DBFS API's FileInfo."""

    path: str
    is_dir: bool
    file_size: int
    modification_time: int

    def to_dbfs(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "is_dir": self.is_dir,
            "file_size": self.file_size,
            "modification_time": self.modification_time,
        }


def dbfs_root(home: Path) -> Path:
    return home / DBFS_DIR


def _bad(field: str, reason: str) -> SpecError:
    return SpecError([SpecIssue(field, reason)])


def normalize(path: Any, field: str = "path", *, files_api: bool = False) -> str:
    """The absolute DBFS path of a client's path (`dbfs:/x`, `/x`; `/dbfs/x` in the Files API).

    Raises: SpecError (not absolute, or `..`/`.` parts)."""
    if not isinstance(path, str) or not path:
        raise _bad(field, "required: an absolute path such as /tmp/data.csv")
    text = path[len("dbfs:") :] if path.startswith("dbfs:") else path
    if not text.startswith("/"):
        raise _bad(field, f"must be an absolute path (starting with /), got {path!r}")
    parts = [p for p in text.split("/") if p]
    if any(p in (".", "..") for p in parts) or "\x00" in text:
        raise _bad(field, f"'.' and '..' are not allowed in paths, got {path!r}")
    if files_api and parts[:1] == ["dbfs"]:
        parts = parts[1:]
    return "/" + "/".join(parts)


def local(home: Path, dbfs_path: str) -> Path:
    """Where a normalized DBFS path lives on disk."""
    return dbfs_root(home).joinpath(*PurePosixPath(dbfs_path).parts[1:])


def check_write(dbfs_path: str, user_name: str, admin: bool) -> None:
    """Raises PermissionDenied unless the principal may change `dbfs_path`."""
    if not admin and PurePosixPath(dbfs_path).parts[1:2] == (VOLUMES,):
        raise PermissionDenied(
            f"User {user_name} may not write {dbfs_path}: volumes are written by admins only"
        )


def status(home: Path, dbfs_path: str) -> FileStatus:
    """Raises: NotFound."""
    target = local(home, dbfs_path)
    try:
        info = target.stat()
    except (FileNotFoundError, NotADirectoryError):
        raise NotFound(f"No file or directory exists on path {dbfs_path}.") from None
    is_dir = target.is_dir()
    return FileStatus(dbfs_path, is_dir, 0 if is_dir else info.st_size, int(info.st_mtime * 1000))


def listing(home: Path, dbfs_path: str) -> list[FileStatus]:
    """A directory's entries (a file lists as itself), sorted by path. Raises: NotFound."""
    top = status(home, dbfs_path)
    if not top.is_dir:
        return [top]
    base = dbfs_path.rstrip("/")
    out = []
    for entry in sorted(local(home, dbfs_path).iterdir()):
        try:
            out.append(status(home, f"{base}/{entry.name}"))
        except NotFound:
            continue  # removed meanwhile
    return out


def mkdirs(home: Path, dbfs_path: str) -> None:
    """Create a directory and its parents. Raises: FileExists (a file is in the way)."""
    target = local(home, dbfs_path)
    try:
        target.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise FileExists(
            f"Cannot create directory {dbfs_path}: a file exists on that path or a parent"
        ) from None


def delete(home: Path, dbfs_path: str, *, recursive: bool) -> None:
    """Delete a file or a directory (with its contents when `recursive`); nothing there is
    fine. Raises: DirectoryNotEmpty, SpecError (the root)."""
    if dbfs_path == "/":
        raise _bad("path", "the root cannot be deleted")
    target = local(home, dbfs_path)
    if target.is_dir() and not target.is_symlink():
        if recursive:
            shutil.rmtree(target)
        else:
            try:
                target.rmdir()
            except OSError:
                raise DirectoryNotEmpty(
                    f"Directory {dbfs_path} is not empty; pass recursive=true to delete it"
                ) from None
        return
    with contextlib.suppress(FileNotFoundError):
        target.unlink()


def move(home: Path, source: str, destination: str) -> None:
    """Raises: NotFound (no source), FileExists (destination taken)."""
    src, dst = local(home, source), local(home, destination)
    if not src.exists():
        raise NotFound(f"No file or directory exists on path {source}.")
    if dst.exists():
        raise FileExists(f"A file or directory already exists on path {destination}.")
    if destination.startswith(source.rstrip("/") + "/"):
        raise _bad("destination_path", "cannot move a directory into itself")
    dst.parent.mkdir(parents=True, exist_ok=True)
    os.replace(src, dst)


def read(home: Path, dbfs_path: str, offset: int, length: int) -> bytes:
    """At most `length` bytes from `offset`. Raises: NotFound, NotADirectory (a directory)."""
    target = local(home, dbfs_path)
    if target.is_dir():
        raise NotADirectory(f"{dbfs_path} is a directory, not a file")
    try:
        with open(target, "rb") as f:
            f.seek(offset)
            return f.read(length)
    except (FileNotFoundError, NotADirectoryError):
        raise NotFound(f"No file or directory exists on path {dbfs_path}.") from None


def prepare_file(home: Path, dbfs_path: str, *, overwrite: bool) -> Path:
    """The target of a new file, its folders made. Raises: FileExists, NotADirectory."""
    target = local(home, dbfs_path)
    if dbfs_path == "/" or target.is_dir():
        raise NotADirectory(f"{dbfs_path} is a directory; give a file path")
    if target.exists() and not overwrite:
        raise FileExists(
            f"A file or directory already exists at the input path {dbfs_path}; "
            "pass overwrite=true to replace it"
        )
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise NotADirectory(f"a parent of {dbfs_path} is a file") from None
    return target


def temp_path(target: Path) -> Path:
    """A hidden sibling to write into before moving it over `target` in one step."""
    return target.with_name(f".{target.name}.{os.getpid()}.{os.urandom(4).hex()}.part")


def write_all(home: Path, dbfs_path: str, data: bytes, *, overwrite: bool) -> None:
    """Write a whole (small) file atomically. Raises: FileExists, NotADirectory."""
    target = prepare_file(home, dbfs_path, overwrite=overwrite)
    part = temp_path(target)
    part.write_bytes(data)
    os.replace(part, target)
