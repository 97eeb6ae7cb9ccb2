"""Runs a dbt_task's commands with dbt's Python API, inside the task's dbt environment.

`python -m headrace.dbt.child COMMANDS_JSON`: dbt is imported once for all the commands. dbt's
own output is the task's log; when a command fails, the last line names the command and dbt's
own message (what failed and why), which becomes the task's error.
"""

from __future__ import annotations

import json
import shlex
import sys
from typing import Any

_FAILED = ("error", "fail", "runtime error")


def main(argv: list[str]) -> int:
    commands = json.loads(argv[0])
    from dbt.cli.main import dbtRunner

    runner = dbtRunner()
    for command in commands:
        words = shlex.split(command)
        print(f"[headrace] {command}", flush=True)
        result = runner.invoke(words[1:])
        if not result.success:
            print(f"{command!r} failed: {_reason(words, result)}", flush=True)
            return 1
    return 0


def _reason(words: list[str], result: Any) -> str:
    """dbt's own words for why a command failed."""
    if result.exception is not None:
        text = " ".join(str(result.exception).split())
        if len(words) > 1 and words[1] == "deps":
            return f"dbt deps could not install the packages (is the network reachable?): {text}"
        return text
    failures = []
    for node in getattr(result.result, "results", None) or []:
        if str(getattr(node, "status", "")).lower() in _FAILED:
            name = getattr(getattr(node, "node", None), "name", "?")
            kind = getattr(getattr(node, "node", None), "resource_type", "node")
            message = " ".join(str(getattr(node, "message", "") or "").split())
            failures.append(f"{kind} {name}: {message}")
    if failures:
        more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
        return failures[0] + more
    return "dbt reported a failure (see the log above)"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
