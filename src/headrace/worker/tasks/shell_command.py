"""shell_command_task (a Headrace extension): a command line run by bash (or sh).

A command that is one plain program call (`true`, `dbt run --select x`) is started directly
instead: the shell would only exec it, and skipping it saves a shell start per task.
"""

from __future__ import annotations

import os
import shutil
from typing import Any

from headrace.engine.workspace import task_local_path
from headrace.worker.tasks.base import TaskCommand

_SHELL = shutil.which("bash") or "/bin/sh"
# Anything a shell would interpret (expansion, quoting, redirection, control flow, globbing).
_SHELL_SYNTAX = frozenset("|&;<>()$`\\\"'*?[]#~={}!\n\t%^")
# Builtins whose behaviour may differ from the program of the same name (or that have none).
_BUILTINS = (
    "alias bg bind break builtin caller cd command compgen complete continue declare dirs "
    "disown echo enable eval exec exit export fc fg getopts hash help history jobs kill let "
    "local logout mapfile popd printf pushd pwd read readarray readonly return set shift "
    "shopt source suspend test times trap type typeset ulimit umask unalias unset wait . [ "
    "if then else elif fi case esac for while until do done function time coproc select"
)
_KEEP_IN_SHELL = frozenset(_BUILTINS.split())


def build_command(settings: dict[str, Any]) -> TaskCommand:
    """`bash -c COMMAND` (or the program itself) with the task's env and working directory."""
    env = {k: str(v) for k, v in (settings.get("env") or {}).items()}
    command = settings["command"]
    argv = direct_argv(command, env.get("PATH", os.environ.get("PATH")))
    workdir = task_local_path(settings.get("working_directory"))  # may be a workspace path
    return TaskCommand(argv or [_SHELL, "-c", command], env, workdir)


def direct_argv(command: str, path: str | None) -> list[str] | None:
    """The argv to exec for a plain program call, or None when the shell is needed."""
    if not command.strip() or any(ch in _SHELL_SYNTAX for ch in command):
        return None
    words = command.split()
    if words[0] in _KEEP_IN_SHELL or "/" in words[0]:
        return None
    program = _find_program(words[0], path) if path else shutil.which(words[0], path=path)
    return [program, *words[1:]] if program else None


def _find_program(name: str, path: str) -> str | None:
    """`shutil.which(name, path=path)` for a name without a `/`: the first executable non-folder
    along `path`, with half of its Python per folder (`which` is ~30 us of a `true` task's
    worker CPU; the work is one `access` per PATH entry, issue 18)."""
    try:
        for folder in dict.fromkeys(path.split(os.pathsep)):  # each folder once, as `which`
            # os.path.join(folder, name) for a name without '/', spelled out (one per folder)
            candidate = folder + "/" + name if folder and folder[-1] != "/" else folder + name
            if os.access(candidate, os.X_OK) and not os.path.isdir(candidate):
                return candidate
    except ValueError:  # a NUL byte: `which` finds nothing either
        return None
    return None
