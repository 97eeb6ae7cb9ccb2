"""`dbutils.notebook.run(path, timeout_seconds, arguments)`: another notebook, its own kernel.

As on Databricks the child runs apart from the caller (no shared variables), with
`arguments` as its widget values, and returns the value it passes to `dbutils.notebook.exit`.
It is a runner process in the task's process group (the task's timeout and cancel reach it);
its own timeout stops it with SIGTERM, on which the runner takes its kernel down.
Its executed notebook and log are kept in the attempt's folder under `children/`.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from headrace.runtime.notebook_shared import EXIT_FILE_ENV, NOTEBOOK_PATH_ENV, NotebookRunError

_KERNEL_ONLY = (EXIT_FILE_ENV, NOTEBOOK_PATH_ENV, "HEADRACE_NOTEBOOK_KERNEL", "JPY_PARENT_PID")
_STOP_GRACE_SECONDS = 5.0


def _caller_folder() -> Path:
    current = os.environ.get(NOTEBOOK_PATH_ENV)
    return Path(current).parent if current else Path.cwd()


def _child_folder(name: str) -> Path:
    out = os.environ.get("HEADRACE_OUTPUT")
    base = Path(out).parent / "children" if out else Path(tempfile.mkdtemp(prefix="headrace-"))
    base.mkdir(parents=True, exist_ok=True)
    for n in itertools.count(1):
        folder = base / f"{n}-{name}"
        try:
            folder.mkdir()
            return folder
        except FileExistsError:
            continue
    raise AssertionError("unreachable")


def _context(arguments: dict[str, Any]) -> dict[str, Any]:
    path = os.environ.get("HEADRACE_CONTEXT")
    context: dict[str, Any] = {}
    if path:
        with open(path, encoding="utf-8") as f:
            context = json.load(f)
    context["parameters"] = {str(k): str(v) for k, v in arguments.items()}
    return context


def _last_line(log: Path) -> str:
    lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
    return lines[-1].strip() if lines else "no output"


def run_notebook(path: str, timeout_seconds: Any, arguments: dict[str, Any]) -> str | None:
    """Run the notebook at `path` (relative to the calling notebook's folder) to its end.

    Raises:
        NotebookRunError: not found, failed, or still running after `timeout_seconds` (0: none).
    """
    from headrace.notebook.paths import resolve

    if not isinstance(arguments, dict):
        raise NotebookRunError(f"arguments must be a dict of widget values, got {arguments!r}")
    try:
        timeout = float(timeout_seconds or 0)
    except (TypeError, ValueError):
        raise NotebookRunError(
            f"timeout_seconds must be a number, got {timeout_seconds!r}"
        ) from None
    try:
        notebook = resolve(path, base=_caller_folder())
    except ValueError as exc:
        raise NotebookRunError(str(exc)) from None
    folder = _child_folder(notebook.stem)
    (folder / "context.json").write_text(json.dumps(_context(arguments)))
    env = {k: v for k, v in os.environ.items() if k not in _KERNEL_ONLY}
    env["HEADRACE_CONTEXT"] = str(folder / "context.json")
    env["HEADRACE_OUTPUT"] = str(folder / "output.json")
    argv = [sys.executable, "-m", "headrace.notebook.runner", str(notebook)]
    argv += ["--save", str(folder / "notebook.ipynb")]
    # Where to look: the cell's output names the child's executed notebook and log.
    print(f"Running notebook {path} ({notebook}); its run is kept in {folder}", flush=True)
    with open(folder / "output.log", "wb") as log:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=notebook.parent,
        )
        try:
            code = proc.wait(timeout=timeout if timeout > 0 else None)
        except subprocess.TimeoutExpired:
            _stop(proc)
            shown = f"{timeout:g}"
            raise NotebookRunError(f"notebook {path} timed out after {shown} s") from None
        except BaseException:
            _stop(proc)  # the caller was interrupted: the child must not outlive it
            raise
    if code != 0:
        raise NotebookRunError(
            f"notebook {path} failed: {_last_line(folder / 'output.log')} "
            f"(log: {folder / 'output.log'})"
        )
    try:
        output = json.loads((folder / "output.json").read_text())
    except (FileNotFoundError, ValueError):
        return None
    return (output.get("notebook_output") or {}).get("result")


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=_STOP_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
