"""What a missing Databricks sample table is, for error messages (stdlib only: task processes
import it when a Spark or SQL error is shown)."""

from __future__ import annotations

import re

_NAME = re.compile(r"[`\"]?samples[`\"]?\.[`\"]?(\w+)[`\"]?\.[`\"]?(\w+)[`\"]?", re.I)
_MISSING = re.compile(r"TABLE_OR_VIEW_NOT_FOUND|does not exist|not found|cannot be found", re.I)


def samples_hint(message: str, statement: str = "") -> str | None:
    """The sentence to add when `message` says a table is missing and it (or the statement)
    names a `samples.<schema>.<table>` table; else None."""
    if not _MISSING.search(message):
        return None
    found = _NAME.search(message) or _NAME.search(statement)
    if found is None:
        return None
    name = f"samples.{found.group(1)}.{found.group(2)}"
    return (
        f"{name} is a Databricks sample dataset, not part of Headrace: run `headrace samples "
        "install` to write SYNTHETIC stand-ins (docs/samples.md), or read a table of yours"
    )
