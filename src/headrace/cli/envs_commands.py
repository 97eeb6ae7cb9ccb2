"""`headrace envs list | prune`: the task environments built under Headrace's home."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict

from headrace.config import default_home
from headrace.errors import SpecError, SpecIssue

_UNITS = {"d": 86_400, "h": 3_600, "m": 60, "s": 1}


def parse_age(text: str) -> float:
    """Seconds in `7d`, `12h`, `30m` or `0s`. Raises: SpecError naming the flag."""
    text = text.strip()
    if len(text) >= 2 and text[-1] in _UNITS and text[:-1].isdigit():
        return int(text[:-1]) * _UNITS[text[-1]]
    raise SpecError([SpecIssue("--unused-for", f"expected e.g. 7d, 12h, 30m or 0s, got {text!r}")])


def list_envs(as_json: bool) -> None:
    from headrace.worker.environments import envs_dir, list_environments

    envs = list_environments(default_home())
    if as_json:
        rows = [{**asdict(e), "path": str(e.path)} for e in envs]
        sys.stdout.write(json.dumps({"environments": rows}, indent=2) + "\n")
        return
    if not envs:
        print(f"no environments in {envs_dir(default_home())}")
        return
    for e in envs:
        used = time.strftime("%Y-%m-%d %H:%M", time.localtime(e.last_used))
        deps = ", ".join(e.dependencies) or "-"
        print(f"{e.key}  {e.size_bytes / 1e6:7.1f} MB  last used {used}  {deps}")


def prune_envs(unused_for: str) -> None:
    from headrace.worker.environments import prune_environments

    removed = prune_environments(default_home(), unused_for_seconds=parse_age(unused_for))
    print(f"removed {len(removed)} environment{'s' if len(removed) != 1 else ''}")
    for key in removed:
        print(f"  {key}")
