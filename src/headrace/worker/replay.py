"""Re-executing one recorded attempt in the foreground (issue 16: `headrace runs replay`).

The process gets what the original attempt got (the recorded payload: resolved settings,
widget parameters, upstream task values, environment), with its stdin, stdout and stderr
on the terminal and in the terminal's process group, so a debugger works and Ctrl-C reaches
it. Nothing goes to the store and nothing to the original attempt's folder: the replay's
context, task values and output files live in a scratch folder, printed at the end.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from headrace.errors import HeadraceError
from headrace.store.records import Attempt
from headrace.worker.file_versions import recorded_versions, restore_changed, task_files
from headrace.worker.supervisor import _in_environment, attempt_dir
from headrace.worker.task_env import task_environment
from headrace.worker.tasks import TaskCommand, command_builder


class ReplayError(HeadraceError):
    """The recorded attempt cannot be replayed."""


def replay_command(attempt: Attempt, *, pdb: bool, here: bool) -> TaskCommand:
    """The recorded attempt's command (`python -m pdb ...` for Python processes with `pdb`)."""
    payload = attempt.payload
    try:
        command = command_builder(payload["task_type"])(payload["settings"])
    except (KeyError, ValueError, ImportError) as exc:
        raise ReplayError(f"cannot rebuild the task's command: {exc}") from exc
    if pdb:
        argv = command.argv
        if not argv or Path(argv[0]).name not in ("python", "python3", Path(sys.executable).name):
            raise ReplayError(f"--pdb needs a Python task; {payload['task_type']} runs {argv[0]!r}")
        command = dataclasses.replace(command, argv=[argv[0], "-m", "pdb", *argv[1:]])
    if here:
        command = dataclasses.replace(command, cwd=None)
    return command


def replay(
    attempt: Attempt, home: Path, logs_dir: Path, *, pdb: bool = False, here: bool = False
) -> dict[str, Any]:
    """Run the recorded attempt again, attached to this terminal; returns what it did.

    `logs_dir`: the attempts' folders (`Settings.logs_dir`), where its file versions are listed.
    """
    folder = Path(tempfile.mkdtemp(prefix=f"headrace-replay-{attempt.run_id}-"))
    recorded = recorded_versions(attempt_dir(logs_dir, attempt))
    notes: list[str] = []
    extra_path: list[str] = []
    if recorded is None:
        notes = [
            f"[headrace] warning: {path} changed after the attempt started and its version"
            " then was not kept; the replay runs it as it is now"
            for path in changed_files(attempt)
        ]
    else:
        replaced, missing = restore_changed(recorded, home, folder)
        if replaced:
            attempt = dataclasses.replace(
                attempt, payload={**attempt.payload, "settings": _with_files(attempt, replaced)}
            )
            # The copy runs from the scratch folder: its neighbours stay importable.
            extra_path = sorted({str(Path(e["path"]).parent) for e in recorded})
        notes = [
            f"[headrace] {setting}: changed since the attempt; replaying the version it ran"
            f" ({copy})"
            for setting, copy in replaced.items()
        ] + [
            f"[headrace] warning: the version of {path} the attempt ran is no longer kept;"
            " the replay runs it as it is now"
            for path in missing
        ]
    payload = attempt.payload
    command = replay_command(attempt, pdb=pdb, here=here)
    context_path = folder / "context.json"
    values_path = folder / "task_values.json"
    keys = ("run_id", "job_id", "task_key", "task_run_id", "attempt_number", "parameters")
    context = {k: payload[k] for k in keys}
    context["task_values"] = payload.get("task_values") or {}
    context_path.write_text(json.dumps(context))
    env = task_environment(command, context_path, values_path, payload)
    env["HEADRACE_OUTPUT"] = str(folder / "output.json")
    env["HEADRACE_REPLAY"] = "1"
    spec = payload.get("environment")
    if spec is not None and command.own_environment:
        env["HEADRACE_ENVIRONMENT_SPEC"] = json.dumps(spec)
    elif spec is not None:
        with open(folder / "environment.log", "wb") as log:
            command = _in_environment(command, spec, home, log)
    with open(folder / "compute.log", "wb") as log:
        # The task finds Spark as in a run, but no cluster of the original run is touched.
        from headrace.compute.attach import spark_task_env

        env.update(spark_task_env(payload, home, None, env, log))
    if command.cwd is not None and not Path(command.cwd).is_dir():
        raise ReplayError(f"working_directory {command.cwd!r} does not exist (try --here)")
    if extra_path:
        env["PYTHONPATH"] = os.pathsep.join([*extra_path, env.get("PYTHONPATH", "")]).rstrip(
            os.pathsep
        )
    for note in notes:
        sys.stderr.write(note + "\n")
    sys.stderr.flush()
    proc = subprocess.run(command.argv, cwd=command.cwd, env=env, check=False)
    values = None
    if values_path.exists():
        try:
            values = json.loads(values_path.read_text() or "{}")
        except ValueError:
            values = None
    return {
        "exit_code": proc.returncode,
        "original_exit_code": attempt.exit_code,
        "task_values": values,
        "folder": str(folder),
    }


def _with_files(attempt: Attempt, replaced: dict[str, str]) -> dict[str, Any]:
    """The recorded settings with the task's changed files pointing at their kept versions."""
    settings = dict(attempt.payload.get("settings") or {})
    for key, value in list(settings.items()):
        if isinstance(value, str) and value in replaced:
            settings[key] = replaced[value]
            settings.pop("source", None)  # the copy is a local file, not a workspace path
    sql_file = settings.get("file")
    if isinstance(sql_file, dict) and sql_file.get("path") in replaced:
        settings["file"] = {k: v for k, v in sql_file.items() if k != "source"} | {
            "path": replaced[sql_file["path"]]
        }
    return settings


def changed_files(attempt: Attempt) -> list[str]:
    """The task's own files modified since an attempt that kept no versions started."""
    settings = attempt.payload.get("settings") or {}
    started = attempt.start_time or attempt.created_time
    changed = []
    for path in task_files(settings).values():
        try:
            if os.path.getmtime(path) * 1000 > started:
                changed.append(path)
        except OSError:  # removed since it was listed: nothing to compare
            continue
    return changed
