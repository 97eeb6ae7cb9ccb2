"""Virtual environments of real client packages (Airflow's provider, the legacy CLI), built
once with uv and cached under ~/.cache/headrace-tests/<name>-<hash of the requirements>.

A cold Airflow build takes about 60 s (37 s with a warm uv cache; docs/compatibility.md); later
sessions reuse the directory. HEADRACE_TEST_VENVS moves the cache.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

AIRFLOW = ("apache-airflow==2.10.5", "apache-airflow-providers-databricks==7.7.5")
DATABRICKS_CLI = ("databricks-cli==0.18.0",)
PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"


def cache_root() -> Path:
    explicit = os.environ.get("HEADRACE_TEST_VENVS")
    if explicit:
        return Path(explicit)
    return Path.home() / ".cache" / "headrace-tests"


def _uv() -> str:
    from uv import find_uv_bin

    return find_uv_bin()


def client_venv(name: str, requirements: tuple[str, ...]) -> Path:
    """The python of a venv holding `requirements`, built on first use (one builder at a time)."""
    key = hashlib.sha256("\n".join((PYTHON, *requirements)).encode()).hexdigest()[:12]
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    target = root / f"{name}-{key}"
    python = target / "bin" / "python"
    with open(root / f"{name}-{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another session may be building the same one
        done = target / ".headrace-complete"
        if done.exists():
            return python
        shutil.rmtree(target, ignore_errors=True)  # a build that was interrupted
        env = {k: v for k, v in os.environ.items() if not k.startswith("VIRTUAL_ENV")}
        subprocess.run(
            [_uv(), "venv", "-q", "--python", sys.executable, str(target)],
            check=True,
            env=env,
            timeout=300,
        )
        subprocess.run(
            [_uv(), "pip", "install", "-q", "--python", str(python), *requirements],
            check=True,
            env=env,
            timeout=1200,
        )
        done.write_text("\n".join(requirements) + "\n")
    return python
