"""Task environments: one virtual environment per distinct `environments[].spec`, made by uv.

An environment lives in `<home>/envs/<hash>/`, the hash taken over the spec and the interpreter
Headrace runs on, so every task (and run) with the same spec reuses it. It is built once under a
file lock (two tasks asking at once wait for one build) and marked ready only when complete; a
failed build leaves nothing behind and fails only the task that asked, with uv's own message.

The environment holds exactly the spec's dependencies. Headrace's own `headrace` package is made
importable through a `.pth` file pointing at a folder that holds only that package, so task code
can use `headrace.runtime` (dbutils) without seeing Headrace's other dependencies.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from headrace.errors import HeadraceError

READY = "ready.json"
_HEADRACE_PACKAGE = Path(__file__).resolve().parents[1]


class EnvironmentFailed(HeadraceError):
    """A task's environment could not be built."""


@dataclass(frozen=True)
class EnvironmentInfo:
    """A built environment, as `headrace envs list` shows it."""

    key: str
    path: Path
    dependencies: list[str]
    created: float
    last_used: float
    size_bytes: int


def envs_dir(home: Path) -> Path:
    return home / "envs"


def environment_key(spec: dict[str, Any], pip_args: list[str] | None = None) -> str:
    """The cache key: the spec's dependencies and client, the interpreter they are for, and the
    size and time of each local file installed (a rebuilt wheel makes a new environment)."""
    files = {}
    for arg in pip_args or []:
        if os.path.isfile(arg):
            stat = os.stat(arg)
            files[arg] = [stat.st_size, stat.st_mtime_ns]
    identity = {
        "client": spec.get("client") or spec.get("environment_version"),
        "dependencies": list(spec.get("dependencies") or []),
        "files": files,
        "python": sys.version.split()[0],
        "executable": os.path.realpath(sys.executable),
        "runtime": runtime_packages(list(spec.get("dependencies") or [])),
    }
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()
    return digest[:16]


def python_of(env: Path) -> Path:
    return env / "bin" / "python"


def ensure_environment(spec: dict[str, Any], home: Path, log: IO[bytes]) -> Path:
    """The python of `spec`'s environment, built first if needed (progress goes to `log`).

    Raises:
        EnvironmentFailed: uv could not create the environment or install a dependency.
    """
    deps = [str(d) for d in spec.get("dependencies") or []]
    pip_args = _pip_args(deps)
    key = environment_key(spec, pip_args)
    root = envs_dir(home)
    root.mkdir(parents=True, exist_ok=True)
    env = root / key
    with open(root / f"{key}.lock", "wb") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another task building it: wait for that build
        if (env / READY).exists():
            _touch(env)
            _say(log, f"[headrace] using environment {key} ({len(deps)} dependencies)\n")
            return python_of(env)
        shutil.rmtree(env, ignore_errors=True)  # a build that died half-way
        _say(log, f"[headrace] creating environment {key} with uv: {' '.join(deps) or '-'}\n")
        started = time.monotonic()
        try:
            _uv(log, "venv", "--quiet", "--python", sys.executable, str(env))
            if deps:
                _uv(log, "pip", "install", "--python", str(python_of(env)), *pip_args)
            _install_runtime(log, env, deps)
            _expose_headrace(env)
        except EnvironmentFailed:
            shutil.rmtree(env, ignore_errors=True)
            raise
        record = {"key": key, "dependencies": deps, "created": time.time()}
        (env / READY).write_text(json.dumps(record))
        _say(log, f"[headrace] environment {key} ready in {time.monotonic() - started:.1f}s\n")
    return python_of(env)


def runtime_packages(deps: list[str]) -> list[str]:
    """What every environment gets besides its spec, as on Databricks Runtime: databricks-sdk
    (`from databricks.sdk.runtime import dbutils, spark`), at Headrace's own version, unless
    the spec names it itself (issue 12)."""
    if any(_name(d) == "databricks-sdk" for d in deps):
        return []
    try:
        from importlib.metadata import version

        return [f"databricks-sdk=={version('databricks-sdk')}"]
    except Exception:  # not installed next to Headrace: the latest one
        return ["databricks-sdk"]


def _install_runtime(log: IO[bytes], env: Path, deps: list[str]) -> None:
    """databricks-sdk into the environment; without it (no package index reachable) the
    environment still works, only `databricks.sdk` is missing: said in the task's log."""
    extra = runtime_packages(deps)
    if not extra:
        return
    try:
        _uv(log, "pip", "install", "--python", str(python_of(env)), *extra)
    except EnvironmentFailed as exc:
        _say(log, f"[headrace] {' '.join(extra)} not installed ({exc}); continuing\n")


def _name(dep: str) -> str:
    import re

    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", dep)
    return match.group(1).lower().replace("_", "-") if match else ""


def _pip_args(deps: list[str]) -> list[str]:
    """Dependencies as uv pip arguments: `-e path` and `-r file` keep their flag."""
    from headrace.engine.workspace import task_local_path

    args: list[str] = []
    for dep in deps:
        flag, _, rest = dep.partition(" ")
        if flag in ("-e", "--editable", "-r", "--requirement", "-c", "--constraint") and rest:
            args += [flag, _local(task_local_path, rest.strip())]
            continue
        dep = _local(task_local_path, dep)  # a deployed bundle names workspace files
        if os.path.isabs(dep) and any(c in dep for c in "*?["):
            # `./dist/*.whl`: the wheel a build just made, whatever its version.
            found = sorted(glob.glob(dep))
            if not found:
                raise EnvironmentFailed(
                    f"could not build the task's environment: no file matches {dep}"
                )
            args += found
        else:
            args.append(dep)
    return args


def _local(mapper: Any, path: str) -> str:
    try:
        return str(mapper(path))
    except ValueError as exc:
        raise EnvironmentFailed(f"could not build the task's environment: {exc}") from None


def _uv(log: IO[bytes], *args: str) -> None:
    from uv import find_uv_bin

    # uv's own cache is shared by every environment: a second build of the same wheel is a copy.
    proc = subprocess.run(
        [find_uv_bin(), *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "UV_PYTHON"))},
    )
    log.write(proc.stdout)
    log.flush()
    if proc.returncode != 0:
        lines = [ln for ln in proc.stdout.decode(errors="replace").splitlines() if ln.strip()]
        detail = next((ln.strip() for ln in lines if "error" in ln.lower()), None)
        detail = detail or (lines[-1].strip() if lines else f"exit code {proc.returncode}")
        raise EnvironmentFailed(f"could not build the task's environment: {detail}")


def _expose_headrace(env: Path) -> None:
    """Make `import headrace` work in the environment, and nothing else of Headrace's."""
    shim = env / "headrace-shim"
    shim.mkdir(exist_ok=True)
    (shim / "headrace").symlink_to(_HEADRACE_PACKAGE, target_is_directory=True)
    site = next((env / "lib").glob("python*/site-packages"))
    (site / "_headrace.pth").write_text(str(shim) + "\n")


def _touch(env: Path) -> None:
    with contextlib.suppress(OSError):
        os.utime(env / READY)


def _say(log: IO[bytes], text: str) -> None:
    log.write(text.encode())
    log.flush()


def list_environments(home: Path) -> list[EnvironmentInfo]:
    """Every ready environment, least recently used first."""
    out = []
    root = envs_dir(home)
    for ready in root.glob(f"*/{READY}") if root.is_dir() else ():
        env = ready.parent
        try:
            record = json.loads(ready.read_text())
        except (OSError, ValueError):
            continue
        size = sum(f.stat().st_size for f in env.rglob("*") if f.is_file() and not f.is_symlink())
        out.append(
            EnvironmentInfo(
                key=env.name,
                path=env,
                dependencies=record.get("dependencies", []),
                created=record.get("created", 0.0),
                last_used=ready.stat().st_mtime,
                size_bytes=size,
            )
        )
    return sorted(out, key=lambda e: e.last_used)


def prune_environments(home: Path, *, unused_for_seconds: float = 0.0) -> list[str]:
    """Remove environments not used for `unused_for_seconds`; skips any being built or used
    by a build right now (its lock is held). Returns the removed keys."""
    removed = []
    cutoff = time.time() - unused_for_seconds
    root = envs_dir(home)
    for info in list_environments(home):
        if info.last_used > cutoff:
            continue
        with open(root / f"{info.key}.lock", "wb") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue
            shutil.rmtree(info.path, ignore_errors=True)
        (root / f"{info.key}.lock").unlink(missing_ok=True)
        removed.append(info.key)
    return removed
