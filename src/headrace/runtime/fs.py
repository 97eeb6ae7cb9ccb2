"""`dbutils.fs`: ls, cp, mv, rm, put, head, mkdirs on local paths and fsspec URLs.

Local paths (`/tmp/x`, `file:/tmp/x`) use the local file system; `dbfs:/path` is kept under
`$HEADRACE_HOME/dbfs/` (there is no DBFS here); Unity Catalog volume paths
`/Volumes/<catalog>/<schema>/<volume>/...` (also `file:/Volumes/...`, `dbfs:/Volumes/...`) are
`$HEADRACE_HOME/dbfs/Volumes/...`, as for Spark (`headrace.compute.volumes`) and the Files API,
never `/Volumes` on the machine; any other URL (`s3://`, `memory://`, ...) goes through fsspec,
which loads the protocol's package on first use.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class FsError(ValueError):
    """A dbutils.fs call failed (bad path, missing file, existing target)."""


@dataclass(frozen=True)
class FileInfo:
    """As Databricks' FileInfo: folders' names end with '/'."""

    path: str
    name: str
    size: int
    modificationTime: int


def dbfs_root() -> Path:
    home = os.environ.get("HEADRACE_HOME")
    return (Path(home).expanduser() if home else Path.home() / ".headrace") / "dbfs"


VOLUMES = "Volumes"


def volume_local_path(path: str) -> str | None:
    """Where a `/Volumes/...` path (or `file:/Volumes/...`) is on disk; None for other paths."""
    bare = "/" + path[len("file:") :].lstrip("/") if path.startswith("file:") else path
    if bare != f"/{VOLUMES}" and not bare.startswith(f"/{VOLUMES}/"):
        return None
    rest = bare.lstrip("/")
    if any(part == ".." for part in rest.split("/")):
        raise FsError(f"'..' is not allowed in a volume path: {path!r}")
    return str(dbfs_root() / rest)


_GUARDED_EVENTS = {
    "open": 1,
    "os.mkdir": 1,
    "os.listdir": 1,
    "os.scandir": 1,
    "os.remove": 1,
    "os.rmdir": 1,
    "os.rename": 2,
    "os.chdir": 1,
    "os.truncate": 1,
    "os.utime": 1,
}
_guard_installed = False


def _volume_arg(value: object) -> str | None:
    try:
        text = os.fsdecode(os.fspath(value))  # type: ignore[arg-type]
    except TypeError:
        return None
    return text if text == f"/{VOLUMES}" or text.startswith(f"/{VOLUMES}/") else None


def install_volume_guard() -> None:
    """Make plain file access to `/Volumes/...` in task code fail with a clear error.

    Databricks mounts volumes at `/Volumes`; here they are folders of the data directory, and
    the machine's `/Volumes` must never be written (a task running as root would create it).
    An audit hook (PEP 578) refuses `open()`, `os.makedirs()`, `os.listdir()`, ... on
    `/Volumes/...` with a `PermissionError` naming the folder to use instead; `dbutils.fs` and
    Spark map such paths themselves. Native code that opens files without Python's audit
    events (pyarrow's own file system, for one) is not covered.
    """
    global _guard_installed
    if _guard_installed:
        return
    _guard_installed = True
    import sys

    def hook(event: str, args: tuple[object, ...]) -> None:
        count = _GUARDED_EVENTS.get(event)
        if count is None:
            return
        for value in args[:count]:
            path = _volume_arg(value)
            if path is not None:
                raise PermissionError(
                    f"{path}: volumes are not mounted on this machine; use dbutils.fs or Spark "
                    f"with this path, or the local file {dbfs_root() / path.lstrip('/')}"
                )

    sys.addaudithook(hook)


def _url(path: str) -> str:
    """The fsspec URL of a dbutils path."""
    if not isinstance(path, str) or not path:
        raise FsError(f"expected a path or URL, got {path!r}")
    if path.startswith("dbfs:"):
        rest = path[len("dbfs:") :].lstrip("/")
        if any(part == ".." for part in rest.split("/")):
            raise FsError(f"'..' is not allowed in a dbfs path: {path!r}")
        return str(dbfs_root() / rest)
    volume = volume_local_path(path)
    if volume is not None:
        return volume
    if path.startswith("file:"):
        return "/" + path[len("file:") :].lstrip("/")
    return path


def _fs(url: str) -> tuple[Any, str]:
    from fsspec.core import url_to_fs

    return url_to_fs(url)


def _shown(original: str, fs: Any, found: str) -> str:
    """A listed path written the way the caller wrote its folder (dbfs:, file:, URL)."""
    if original.startswith("dbfs:"):
        return "dbfs:/" + os.path.relpath(found, dbfs_root()).replace(os.sep, "/")
    if volume_local_path(original) is not None:
        shown = "/" + os.path.relpath(found, dbfs_root()).replace(os.sep, "/")
        return "file:" + shown if original.startswith("file:") else shown
    if original.startswith("file:"):
        return "file:" + found
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    return found if protocol in ("file", "local") else f"{protocol}://{found.lstrip('/')}"


class Fs:
    """`dbutils.fs`."""

    def ls(self, dir: str) -> list[FileInfo]:
        """The entries of a folder (or the file itself), sorted by name. Raises: FsError."""
        fs, path = _fs(_url(dir))
        try:
            entries = fs.ls(path, detail=True)
        except FileNotFoundError:
            raise FsError(f"No such file or directory: {dir}") from None
        out = []
        for e in sorted(entries, key=lambda e: e["name"]):
            is_dir = e.get("type") == "directory"
            shown = _shown(dir, fs, e["name"].rstrip("/")) + ("/" if is_dir else "")
            name = e["name"].rstrip("/").rsplit("/", 1)[-1] + ("/" if is_dir else "")
            mtime = e.get("mtime") or e.get("LastModified") or 0
            stamp = (
                int(mtime.timestamp() * 1000) if hasattr(mtime, "timestamp") else int(mtime * 1000)
            )
            out.append(FileInfo(shown, name, 0 if is_dir else int(e.get("size") or 0), stamp))
        return out

    def mkdirs(self, dir: str) -> bool:
        """Create a folder and its parents."""
        fs, path = _fs(_url(dir))
        fs.makedirs(path, exist_ok=True)
        return True

    def put(self, file: str, contents: str, overwrite: bool = False) -> bool:
        """Write text to a file (its folder is created). Raises: FsError if it exists."""
        fs, path = _fs(_url(file))
        if fs.exists(path) and not overwrite:
            raise FsError(f"File {file} already exists; pass overwrite=True to replace it")
        parent = path.rsplit("/", 1)[0]
        if parent:
            fs.makedirs(parent, exist_ok=True)
        with fs.open(path, "wb") as f:
            f.write(contents.encode())
        return True

    def head(self, file: str, maxBytes: int = 65536) -> str:
        """The first `maxBytes` bytes of a file, as text. Raises: FsError."""
        fs, path = _fs(_url(file))
        try:
            with fs.open(path, "rb") as f:
                return f.read(maxBytes).decode(errors="replace")
        except FileNotFoundError:
            raise FsError(f"No such file: {file}") from None
        except IsADirectoryError:
            raise FsError(f"{file} is a folder, not a file") from None

    def cp(self, from_: str, to: str, recurse: bool = False) -> bool:
        """Copy a file (a folder with `recurse=True`), across file systems too."""
        src_fs, src = _fs(_url(from_))
        dst_fs, dst = _fs(_url(to))
        if not src_fs.exists(src):
            raise FsError(f"No such file or directory: {from_}")
        if src_fs.isdir(src):
            if not recurse:
                raise FsError(f"{from_} is a folder: pass recurse=True to copy it")
            for found in src_fs.find(src):
                rel = found[len(src.rstrip("/")) :].lstrip("/")
                self._copy_file(src_fs, found, dst_fs, f"{dst.rstrip('/')}/{rel}")
            return True
        self._copy_file(src_fs, src, dst_fs, dst)
        return True

    @staticmethod
    def _copy_file(src_fs: Any, src: str, dst_fs: Any, dst: str) -> None:
        parent = dst.rsplit("/", 1)[0]
        if parent:
            dst_fs.makedirs(parent, exist_ok=True)
        with src_fs.open(src, "rb") as fin, dst_fs.open(dst, "wb") as fout:
            while chunk := fin.read(1 << 20):
                fout.write(chunk)

    def mv(self, from_: str, to: str, recurse: bool = False) -> bool:
        """Move a file (a folder with `recurse=True`)."""
        self.cp(from_, to, recurse=recurse)
        self.rm(from_, recurse=recurse)
        return True

    def rm(self, dir: str, recurse: bool = False) -> bool:
        """Delete a file (a folder with `recurse=True`); False if nothing was there."""
        fs, path = _fs(_url(dir))
        if not fs.exists(path):
            return False
        if fs.isdir(path) and not recurse:
            if fs.ls(path):
                raise FsError(f"{dir} is a non-empty folder: pass recurse=True to delete it")
            fs.rmdir(path)
            return True
        fs.rm(path, recursive=recurse)
        return True

    def help(self) -> None:
        print(
            "dbutils.fs: ls, cp, mv, rm, put, head, mkdirs "
            "(local paths, /Volumes/..., dbfs:/, fsspec URLs)"
        )
