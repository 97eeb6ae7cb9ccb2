"""The versions of a task's own files (script, notebook, SQL file) an attempt ran (issue 16).

When an attempt starts, the worker keeps the bytes of each of the task's own files in a
content-addressed folder under the data directory (`<home>/file_versions/<sha256>`: a file that
did not change between attempts is kept once) and lists them in the attempt's folder
(`files.json`). `headrace runs replay` puts those exact bytes back in front of the task, so a
script edited since the run is replayed as it was, not as it is now.

Only the task's own files are kept: what they import or read is not (documented).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

# Settings that name a task's own file; `file.path` is a sql_task's SQL file.
_FILE_SETTINGS = ("python_file", "notebook_path", "path")
_ALL_FILE_SETTINGS = (*_FILE_SETTINGS, "file")
_NOTEBOOK_SUFFIXES = ("", ".py", ".ipynb", ".sql")
MAX_KEPT_BYTES = 16 * 1024 * 1024  # a larger "script" is data: not worth a copy per version
LIST_NAME = "files.json"


def task_files(settings: dict[str, Any]) -> dict[str, str]:
    """The task's own files: {the setting's value: the local file it means}."""
    if not any(key in settings for key in _ALL_FILE_SETTINGS):  # a shell task, most often
        return {}
    from headrace.engine.workspace import task_local_path

    values = [settings.get(k) for k in _FILE_SETTINGS]
    values.append((settings.get("file") or {}).get("path"))
    found: dict[str, str] = {}
    for value in values:
        if not isinstance(value, str) or settings.get("source") == "GIT":
            continue
        try:
            local = str(task_local_path(value, source=settings.get("source")))
        except ValueError:
            continue
        for path in (local + suffix for suffix in _NOTEBOOK_SUFFIXES):
            if os.path.isfile(path):
                found[value] = path
                break
    return found


def keep_versions(settings: dict[str, Any], home: Path, folder: str | Path) -> list[dict[str, Any]]:
    """Keep the task's files' bytes and list them in `folder`; what was kept.

    Never fails the attempt: a file that cannot be read is listed without a hash.
    """
    try:
        return _keep(settings, home, folder)
    except OSError:  # a full disk or an unwritable home must not fail the attempt itself
        return []


def _keep(settings: dict[str, Any], home: Path, folder: str | Path) -> list[dict[str, Any]]:
    kept = []
    for value, path in task_files(settings).items():
        entry: dict[str, Any] = {"setting": value, "path": path}
        try:
            data = Path(path).read_bytes() if os.path.getsize(path) <= MAX_KEPT_BYTES else None
        except OSError:
            data = None
        if data is not None:
            digest = hashlib.sha256(data).hexdigest()
            _store_blob(home, digest, data)
            entry["sha256"] = digest
        kept.append(entry)
    if kept:
        Path(folder, LIST_NAME).write_text(json.dumps(kept))
    return kept


def recorded_versions(folder: Path) -> list[dict[str, Any]] | None:
    """What an attempt's folder lists (None: attempts from before versions were kept)."""
    try:
        return json.loads((folder / LIST_NAME).read_text())
    except (OSError, ValueError):
        return None


def blob_path(home: Path, digest: str) -> Path:
    return home / "file_versions" / digest[:2] / digest


def restore_changed(
    recorded: list[dict[str, Any]], home: Path, scratch: Path
) -> tuple[dict[str, str], list[str]]:
    """Copies of the recorded versions of files changed since, in `scratch`.

    Returns ({setting value: the copy to run instead}, [files whose recorded bytes are gone]).
    """
    replaced: dict[str, str] = {}
    missing: list[str] = []
    for entry in recorded:
        digest = entry.get("sha256")
        path = Path(entry["path"])
        try:
            now = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError:
            now = None
        if digest is None or now == digest:
            continue
        try:
            data = blob_path(home, digest).read_bytes()
        except OSError:
            missing.append(str(path))
            continue
        # Same file name in a folder of its own: `__file__`, the notebook's name and the
        # suffix-based type detection stay as they were.
        copy = scratch / "files" / digest[:12] / path.name
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_bytes(data)
        replaced[entry["setting"]] = str(copy)
    return replaced, missing


def _store_blob(home: Path, digest: str, data: bytes) -> None:
    target = blob_path(home, digest)
    if target.exists():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, target)  # two workers keeping the same version race harmlessly
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
