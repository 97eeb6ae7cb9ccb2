"""Which files a deploy uploads: the CLI's `sync` rules.

- `sync.paths` (default `["."]`, relative to the bundle root) are the folders uploaded; the
  *sync root* is their common folder (the CLI's SyncInferRoot), and it is what
  `${workspace.file_path}` holds, so `../shared` arrives next to the bundle as it is here and
  code that imports it by a relative path works unchanged.
- Files git ignores are left out (in a git checkout), as are version control folders,
  virtualenvs and caches; `sync.include` patterns bring files back (built wheels, data), and
  `sync.exclude` patterns leave more out. Built wheels and jars go up even when git ignores
  them (the CLI uploads artifacts apart). Patterns are gitignore-style, relative to the bundle
  root: `*` within a name, `**` across folders, a pattern without `/` matches a name anywhere.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

# Never uploaded: version control, virtualenvs, caches, Headrace's and Databricks' local state.
SKIP_DIRS = frozenset(
    {
        ".git",
        ".venv",
        "venv",
        "__pycache__",
        ".databricks",
        ".pytest_cache",
        ".ruff_cache",
        "node_modules",
    }
)
SKIP_SUFFIXES = (".pyc", ".pyo")
ARTIFACT_SUFFIXES = (".whl", ".jar")


def sync_root(root: Path, paths: list[str] | None) -> Path:
    """The common folder of the bundle root and its `sync.paths`."""
    folders = [os.path.normpath(root / p) for p in (paths or ["."])]
    return Path(os.path.commonpath([str(root), *folders]))


def bundle_files(
    root: Path, sync: dict[str, list[str]] | None = None
) -> Iterator[tuple[str, Path]]:
    """(path relative to the sync root, file) for each file a deploy uploads."""
    sync = sync or {}
    base = sync_root(root, sync.get("paths"))
    include = [_pattern(p) for p in sync.get("include", [])]
    exclude = [_pattern(p) for p in sync.get("exclude", [])]
    seen: set[Path] = set()
    for folder in [Path(os.path.normpath(root / p)) for p in (sync.get("paths") or ["."])]:
        ignored = _git_ignored(folder)
        for path in _walk(folder):
            if path in seen:
                continue
            seen.add(path)
            rel_root = os.path.relpath(path, root).replace(os.sep, "/")
            # Built artifacts are uploaded even when git ignores them (the CLI uploads them apart).
            wanted = path.suffix in ARTIFACT_SUFFIXES or any(p.search(rel_root) for p in include)
            if not wanted and (path in ignored or any(p.search(rel_root) for p in exclude)):
                continue
            yield path.relative_to(base).as_posix(), path
    for pattern in sync.get("include", []):
        for path in sorted(root.glob(pattern)):
            if path.is_file() and path not in seen:
                seen.add(path)
                yield path.relative_to(base).as_posix(), path


def _walk(folder: Path) -> Iterator[Path]:
    if folder.is_file():
        yield folder
        return
    for current, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.endswith(".egg-info"))
        for name in sorted(names):
            if not name.endswith(SKIP_SUFFIXES):
                yield Path(current) / name


def _git_ignored(folder: Path) -> set[Path]:
    """Files under `folder` that git ignores (empty outside a checkout or without git)."""
    try:
        proc = subprocess.run(
            ["git", "-C", str(folder), "ls-files", "--others", "--ignored", "--exclude-standard"],
            capture_output=True,
            text=True,
            timeout=30,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired):
        return set()
    if proc.returncode != 0:
        return set()
    return {folder / line for line in proc.stdout.splitlines()}


def _pattern(glob: str) -> re.Pattern[str]:
    """A gitignore-style pattern as a regex over paths relative to the bundle root."""
    text = glob.strip().removeprefix("./")
    anchored = "/" in text.rstrip("/")
    text = text.strip("/")
    out = ""
    i = 0
    while i < len(text):
        if text.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
        elif text.startswith("**", i):
            out += ".*"
            i += 2
        elif text[i] == "*":
            out += "[^/]*"
            i += 1
        elif text[i] == "?":
            out += "[^/]"
            i += 1
        else:
            out += re.escape(text[i])
            i += 1
    prefix = "^" if anchored else "(?:^|/)"
    return re.compile(f"{prefix}{out}(?:/|$)")
