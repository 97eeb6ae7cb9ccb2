"""The runtime's Python packages for tasks on a cluster, as Databricks Runtime has them.

On Databricks a wheel, script or notebook attached to a cluster can `import pyspark` (and
`from databricks.sdk.runtime import spark`) whatever its libraries say: the runtime brings
pyspark and its dependencies. A Headrace task environment (worker.environments, a uv venv)
holds only its spec; installing pyspark into each one would cost a build of pyspark from its
sdist (70-90 s per environment). Instead, a task on a cluster gets a folder of symlinks to the
packages of `pyspark[connect]` that Headrace's own interpreter has installed (pyspark, py4j,
pandas, numpy, pyarrow, grpcio, protobuf, ...), and the Spark hook (runtime/spark_path's
`sitecustomize`) appends it to the END of `sys.path`: the environment's own packages win, as
libraries installed on a Databricks cluster override the runtime's.

The folder is `<home>/envs/runtime/<key>/`, the key taken over the interpreter and the versions
linked, made once and atomically (a temporary folder renamed into place).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import shutil
import sys
import tempfile
from importlib.metadata import Distribution, PackageNotFoundError, distribution
from pathlib import Path

RUNTIME_ENV = "HEADRACE_RUNTIME_PACKAGES"  # read by runtime/spark_path/sitecustomize.py
_ROOT_REQUIREMENT = ("pyspark", "connect")  # what Databricks Runtime's Python brings for Spark


def runtime_closure() -> list[Distribution]:
    """The installed distributions `pyspark[connect]` needs, pyspark first ([] without it)."""
    from packaging.markers import default_environment
    from packaging.requirements import Requirement

    found: dict[str, Distribution] = {}
    pending: list[tuple[str, str]] = [_ROOT_REQUIREMENT]
    while pending:
        name, extra = pending.pop()
        key = name.lower().replace("_", "-")
        if key in found:
            continue
        try:
            dist = distribution(name)
        except PackageNotFoundError:
            continue  # an optional dependency Headrace's interpreter lacks: not linked
        found[key] = dist
        for text in dist.requires or []:
            req = Requirement(text)
            env = {**default_environment(), "extra": extra}
            if req.marker is None or req.marker.evaluate(env):
                pending.append((req.name, ""))
    return list(found.values())


def _top_level(dist: Distribution) -> set[str]:
    """The names a distribution puts directly into site-packages (packages, modules, its
    metadata folder), from its RECORD."""
    names = set()
    for file in dist.files or []:
        first = file.parts[0] if file.parts else ""
        if not first or first in ("..", "__pycache__") or first.endswith(".pth"):
            continue
        names.add(first)
    return names


@functools.cache
def _links() -> tuple[str, tuple[str, ...], tuple[tuple[str, Path], ...]]:
    """(key, `name==version` of each distribution, (name, target) of each link); looked up
    once per process (a worker asks for every task on a cluster)."""
    closure = runtime_closure()
    dists = tuple(sorted(f"{d.metadata['Name']}=={d.version}" for d in closure))
    identity = {"python": os.path.realpath(sys.executable), "dists": dists}
    key = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]
    links: dict[str, Path] = {}
    for dist in closure:
        site = Path(str(dist.locate_file("")))
        for name in sorted(_top_level(dist)):
            if (site / name).exists():
                links.setdefault(name, site / name)  # `google` is shared by several
    return key, dists, tuple(links.items())


def runtime_folder(home: Path) -> Path | None:
    """The folder of links to the runtime's packages (made if missing); None when Headrace's
    interpreter has no pyspark."""
    key, dists, links = _links()
    if not dists:
        return None
    folder = Path(home) / "envs" / "runtime" / key
    if folder.is_dir():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".links-", dir=folder.parent))
    try:
        for name, target in links:
            (staging / name).symlink_to(target)
        (staging / "README.txt").write_text(
            "Links to the Python packages a Databricks cluster's runtime brings (pyspark and "
            "its dependencies), appended to sys.path of tasks on a cluster by Headrace.\n"
            + "\n".join(dists)
            + "\n"
        )
        try:
            staging.rename(folder)
        except OSError:  # another task made it meanwhile
            if not folder.is_dir():
                raise
    finally:
        with contextlib.suppress(OSError):
            shutil.rmtree(staging)
    return folder


__all__ = ["RUNTIME_ENV", "runtime_closure", "runtime_folder"]
