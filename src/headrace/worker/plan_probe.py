"""What a plan preview may learn from this machine without changing it (issue 16).

Environments are looked up in the cache by the key a worker would build them under; nothing is
built, locked or touched (a preview must not even refresh an environment's last-used time).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from headrace.worker.environments import (
    READY,
    EnvironmentFailed,
    _pip_args,
    environment_key,
    envs_dir,
)


def environment_probe(home: Path) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """A probe for `plan_preview.preview`: an environment spec -> key, cached, path."""

    def probe(spec: dict[str, Any]) -> dict[str, Any]:
        deps = [str(d) for d in spec.get("dependencies") or []]
        try:
            key = environment_key(spec, _pip_args(deps))
        except EnvironmentFailed as exc:  # e.g. a wheel glob that matches nothing yet
            return {"key": None, "cached": False, "would_build": True, "problem": str(exc)}
        path = envs_dir(home) / key
        cached = (path / READY).exists()
        return {"key": key, "cached": cached, "would_build": not cached, "path": str(path)}

    return probe
