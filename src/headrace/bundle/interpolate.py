"""`${...}` references in bundle configuration (`${var.x}`, `${bundle.target}`, ...).

A value that is exactly one reference takes the referenced value as it is (a complex variable
stays a mapping); a reference inside a longer string is replaced by its text. `{{...}}` (the Jobs
API's dynamic value references) is left alone for the run to resolve.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from headrace.bundle.located import Loc, LocDict, LocList

REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_\-]*(?:\.[A-Za-z0-9_\-]+|\[\d+\])*)\}")


class UnknownReference(Exception):
    """A `${...}` names nothing the bundle defines."""

    def __init__(self, ref: str, reason: str) -> None:
        super().__init__(f"${{{ref}}}: {reason}")
        self.ref = ref


def lookup(ref: str, scope: Mapping[str, Any]) -> Any:
    """The value at a dotted reference path. Raises: UnknownReference."""
    value: Any = scope
    walked: list[str] = []
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", ref):
        if part.startswith("["):
            index = int(part[1:-1])
            if not isinstance(value, list) or index >= len(value):
                raise UnknownReference(ref, f"{'.'.join(walked) or ref} has no item {index}")
            value = value[index]
        elif isinstance(value, Mapping) and part in value:
            value = value[part]
        else:
            where = ".".join(walked)
            if not walked:
                known = ", ".join(sorted(scope))
                raise UnknownReference(ref, f"unknown reference (known roots: {known})")
            if isinstance(value, Mapping):
                known = ", ".join(sorted(str(k) for k in value)) or "nothing"
                raise UnknownReference(ref, f"{where} has no '{part}' (it has: {known})")
            raise UnknownReference(ref, f"{where} is not a mapping")
        walked.append(part)
    if callable(value):
        value = value()
    return value


def substitute(text: str, resolve: Callable[[str], Any]) -> Any:
    """`text` with its references replaced; a lone reference keeps the value's type."""
    whole = REFERENCE.fullmatch(text)
    if whole:
        return resolve(whole.group(1))

    def one(match: re.Match[str]) -> str:
        return as_text(resolve(match.group(1)))

    return REFERENCE.sub(one, text)


def as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, dict | list):
        import json

        return json.dumps(value)
    return str(value)


def interpolate(
    value: Any,
    resolve: Callable[[str], Any],
    on_error: Callable[[Loc | None, str], None],
    loc: Loc | None = None,
) -> Any:
    """A copy of `value` with every reference resolved; problems go to `on_error`."""
    if isinstance(value, dict):
        out = LocDict(loc=getattr(value, "loc", loc))
        for key, item in value.items():
            key_loc = value.locs.get(key) if isinstance(value, LocDict) else None
            out[key] = interpolate(item, resolve, on_error, key_loc or loc)
            if key_loc is not None:
                out.locs[key] = key_loc
        return out
    if isinstance(value, list):
        items = LocList(loc=getattr(value, "loc", loc))
        for i, item in enumerate(value):
            item_loc = value.locs[i] if isinstance(value, LocList) and i < len(value.locs) else None
            items.append(interpolate(item, resolve, on_error, item_loc or loc))
            items.locs.append(item_loc)
        return items
    if isinstance(value, str) and "${" in value:
        try:
            return substitute(value, resolve)
        except UnknownReference as exc:
            on_error(loc, str(exc))
            return value
    return value
