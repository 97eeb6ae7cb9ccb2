"""Running `headrace` (or a probe of it) as a user would, from a test: a child process with
none of this shell's `HEADRACE_*` settings but the ones given, output captured as text.

Stdlib only, so the unit tier can use it without the heavier `support` module.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path


def clean_env(home: Path, **settings: str) -> dict[str, str]:
    """This process's environment without any `HEADRACE_*` variable, then `HEADRACE_HOME=home`
    and `settings` (e.g. `HEADRACE_DB=...`)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADRACE_")}
    env["HEADRACE_HOME"] = str(home)
    env.update(settings)
    return env


def run_captured(
    argv: list[str], *, cwd: Path, env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`argv` run to its end in `cwd` with no stdin; its exit code, stdout and stderr."""
    return subprocess.run(
        argv,
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
