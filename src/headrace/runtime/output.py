"""How a task process reports its output (notebook result, SQL preview) to the worker.

Fields land in the JSON file named by `HEADRACE_OUTPUT`; the worker stores them with the
attempt and `jobs/runs/get-output` returns them (`notebook_output`, `sql_output`, ...).
"""

from __future__ import annotations

import json
import os
from typing import Any


def report_output(**fields: Any) -> None:
    """Merge `fields` into this attempt's output; a no-op outside a Headrace task."""
    path = os.environ.get("HEADRACE_OUTPUT")
    if not path:
        return
    try:
        with open(path, encoding="utf-8") as f:
            current = json.load(f)
    except (FileNotFoundError, ValueError):
        current = {}
    current.update(fields)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(current, f)
    os.replace(tmp, path)


__all__ = ["report_output"]
