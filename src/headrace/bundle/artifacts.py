"""Bundle `artifacts`: wheels built before a run or a deploy, as the Databricks CLI builds them.

`artifacts.<key>: {type: whl, path: ./pkg, build: "uv build --wheel"}` runs `build` in `path`
(relative to the YAML file that names it); without `build`, `uv build --wheel` is used. Tasks
then name the wheel in an environment's dependencies, e.g. `./pkg/dist/*.whl`.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from headrace.errors import HeadraceError, SpecError, SpecIssue

if TYPE_CHECKING:
    from headrace.bundle.loader import Bundle

# `jar` artifacts are built by their own `build` command (sbt, mvn, ...), as the CLI does.
ARTIFACT_TYPES = ("whl", "jar")


class ArtifactBuildFailed(HeadraceError):
    """An artifact's build command failed."""


def build_artifacts(bundle: Bundle, say: Callable[[str], None]) -> None:
    """Build every artifact of the bundle, in order. Raises: SpecError, ArtifactBuildFailed."""
    for key, artifact in bundle.artifacts.items():
        if not isinstance(artifact, dict):
            raise SpecError([SpecIssue(f"artifacts.{key}", "must be a mapping")])
        kind = artifact.get("type", "whl")
        if kind not in ARTIFACT_TYPES:
            raise SpecError(
                [SpecIssue(f"artifacts.{key}.type", f"{kind!r} is not supported; use whl or jar")]
            )
        if kind == "jar" and not artifact.get("build"):
            raise SpecError([SpecIssue(f"artifacts.{key}.build", "a jar artifact needs its build")])
        folder = _folder(bundle, artifact)
        if not folder.is_dir():
            raise SpecError([SpecIssue(f"artifacts.{key}.path", f"no such folder: {folder}")])
        command = artifact.get("build") or _default_build()
        say(f"building artifact {key} in {folder}: {command}")
        proc = subprocess.run(
            command,
            shell=True,
            cwd=folder,
            env=build_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        if proc.returncode != 0:
            tail = "\n".join(proc.stdout.strip().splitlines()[-15:])
            raise ArtifactBuildFailed(
                f"artifact {key}: `{command}` failed with exit code {proc.returncode}"
                f"{_missing_tool(proc.stdout)}\n{tail}"
            )


# What a JVM build tool needs besides itself (the default-scala template builds with sbt).
_TOOL_NEEDS = {
    "sbt": "sbt 1.x (https://www.scala-sbt.org; Debian bookworm has no package) and Maven "
    "Central for its dependencies (the default-scala template: com.databricks databricks-connect "
    "17.3, scala-library 2.13, sbt-assembly)",
    "mvn": "Maven and its repositories (Maven Central) for the pom's dependencies",
    "gradle": "Gradle and its repositories for the build's dependencies",
}


def _missing_tool(output: str) -> str:
    """`: the build needs sbt ...` when the shell could not find the build's tool."""
    for line in output.splitlines():
        text = line.strip()
        if text.endswith((": not found", ": command not found")):
            tool = text.rsplit(":", 2)[-2].strip()
            need = _TOOL_NEEDS.get(tool, f"{tool} on PATH")
            return f": {tool} is not installed; the build needs {need}"
    return ""


def build_env() -> dict[str, str]:
    """The environment of a build command: PATH starts with the folders of Headrace's own
    `python` and `uv`, so `uv build` and `python -m build` work without either on PATH."""
    import sys

    first = [str(Path(sys.executable).parent)]
    try:
        from uv import find_uv_bin

        first.append(str(Path(find_uv_bin()).parent))
    except (ImportError, FileNotFoundError):
        pass
    path = os.environ.get("PATH", "")
    return {**os.environ, "PATH": os.pathsep.join([*dict.fromkeys(first), path])}


def _folder(bundle: Bundle, artifact: dict) -> Path:
    path = artifact.get("path") or "."
    locs = getattr(artifact, "locs", {})
    loc = locs.get("path") or getattr(artifact, "loc", None)
    base = loc.file.parent if loc is not None else bundle.root
    return Path(os.path.normpath(base / str(path)))


def _default_build() -> str:
    from uv import find_uv_bin

    return f"{find_uv_bin()} build --wheel"
