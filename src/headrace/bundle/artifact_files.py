"""Built artifact files at `${workspace.artifact_path}/.internal/<file>`, as the Databricks CLI
puts them (its bundle/libraries: every `artifacts.<key>.files[].source`, globs expanded, is
uploaded to `<artifact_path>/.internal/<basename>`, the folder emptied first).

Jobs that name an artifact by that remote path (the default-scala template's
`environments[].spec.java_dependencies: [${workspace.artifact_path}/.internal/<name>.jar]`) then
find it: `headrace bundle run` copies the files to the local folder that path means on this
machine (`/Volumes/...` under the data directory's volumes, `/Workspace/...` in the local
workspace), and `headrace bundle deploy` uploads them to the server (Files API for
`/Volumes/...`, Workspace import for workspace paths).
"""

from __future__ import annotations

import base64
import glob
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from headrace.errors import SpecError, SpecIssue

if TYPE_CHECKING:
    from headrace.bundle.client import ApiClient
    from headrace.bundle.loader import Bundle

INTERNAL_DIR = ".internal"  # the CLI's libraries.InternalDirName


def internal_path(bundle: Bundle) -> str:
    """`${workspace.artifact_path}/.internal`: where the CLI uploads built artifacts."""
    return f"{str(bundle.workspace['artifact_path']).rstrip('/')}/{INTERNAL_DIR}"


def artifact_files(bundle: Bundle) -> list[Path]:
    """The built files of every artifact (`files[].source`, relative to the YAML file that
    names them, globs expanded). Raises: SpecError naming the field when one matches nothing."""
    found: list[Path] = []
    for key, artifact in bundle.artifacts.items():
        files = artifact.get("files") if isinstance(artifact, dict) else None
        for index, entry in enumerate(files or []):
            source = entry.get("source") if isinstance(entry, dict) else None
            if not source:
                continue
            where = f"artifacts.{key}.files[{index}].source"
            pattern = os.path.normpath(_base(bundle, files, index) / str(source))
            matches = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
            matches = [m for m in matches if Path(m).is_file()]
            if not matches:
                raise SpecError([SpecIssue(where, f"no such file after the build: {pattern}")])
            found += [Path(m) for m in matches]
    return list(dict.fromkeys(found))


def place_locally(bundle: Bundle, home: Path, say: Callable[[str], None]) -> list[Path]:
    """Copy the built files to the local folder `<artifact_path>/.internal` means (emptied
    first, as the CLI's clean-up does). Returns the copies."""
    files = artifact_files(bundle)
    if not files:
        return []
    folder = local_folder(internal_path(bundle), home)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    copies = []
    for source in files:
        target = folder / source.name
        partial = target.with_name(target.name + ".partial")
        shutil.copyfile(source, partial)
        partial.replace(target)  # a task reading it never sees half a jar
        copies.append(target)
    say(f"artifact files at {internal_path(bundle)}: {', '.join(p.name for p in copies)}")
    return copies


def upload(bundle: Bundle, client: ApiClient, say: Callable[[str], None]) -> int:
    """Upload the built files to `<artifact_path>/.internal/` on the server. Returns how many."""
    files = artifact_files(bundle)
    remote = internal_path(bundle)
    for source in files:
        path = f"{remote}/{source.name}"
        if remote.startswith("/Volumes/"):
            client.put_bytes(f"/api/2.0/fs/files{path}?overwrite=true", source.read_bytes())
        else:
            client.post("/api/2.0/workspace/mkdirs", {"path": remote})
            body = {
                "path": path,
                "content": base64.b64encode(source.read_bytes()).decode(),
                "format": "RAW",
                "overwrite": True,
            }
            client.post("/api/2.0/workspace/import", body)
    if files:
        say(f"uploaded {len(files)} artifact file(s) to {remote}")
    return len(files)


def local_folder(remote: str, home: Path) -> Path:
    """The local folder of a `/Volumes/...`, `dbfs:/...` or workspace path on this machine.

    Raises:
        SpecError: workspace.artifact_path is neither (a cloud URL, a relative path).
    """
    from headrace.compute.volumes import dbfs_root, volumes_root
    from headrace.engine.workspace import task_local_path

    if remote.startswith("dbfs:/Volumes/"):
        remote = remote.removeprefix("dbfs:")
    if remote.startswith("/Volumes/"):
        return volumes_root(home) / remote.removeprefix("/Volumes/")
    if remote.startswith("dbfs:/"):
        return dbfs_root(home) / remote.removeprefix("dbfs:/")
    if not remote.startswith("/"):
        issue = f"{remote!r} is not a /Volumes, dbfs:/ or workspace path"
        raise SpecError([SpecIssue("workspace.artifact_path", issue)])
    try:
        return Path(task_local_path(remote, source="WORKSPACE"))
    except ValueError as exc:
        raise SpecError([SpecIssue("workspace.artifact_path", str(exc))]) from None


def _base(bundle: Bundle, files: Any, index: int) -> Path:
    """The folder of the YAML file that wrote `files[index]` (the bundle root if unknown)."""
    locs = getattr(files, "locs", None) or []
    loc = locs[index] if index < len(locs) else getattr(files, "loc", None)
    return loc.file.parent if loc is not None else bundle.root
