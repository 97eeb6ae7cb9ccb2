"""How bundle configuration is combined: included files into the root, a target over the top.

Databricks' rules: mappings merge key by key (the later value wins for scalars); sequences are
concatenated, except job `tasks`, `job_clusters`, `parameters` and `environments`, whose items are
joined by their key (`task_key`, ...) and merged like mappings.
"""

from __future__ import annotations

from typing import Any

from headrace.bundle.located import LocDict, LocList, copy_located

# Sequences whose items are joined by a key field rather than appended.
KEYED_SEQUENCES = {
    "tasks": "task_key",
    "job_clusters": "job_cluster_key",
    "parameters": "name",
    "environments": "environment_key",
}


def merge(base: Any, over: Any, *, field: str | None = None) -> Any:
    """`over` laid on `base` (neither is changed); locations follow the values that win."""
    if isinstance(base, dict) and isinstance(over, dict):
        out = copy_located(base)
        for key, value in over.items():
            if key in out:
                out[key] = merge(out[key], value, field=str(key))
            else:
                out[key] = copy_located(value)
            loc = getattr(over, "locs", {}).get(key)
            if loc is not None and isinstance(out, LocDict):
                out.locs[key] = loc
        return out
    if isinstance(base, list) and isinstance(over, list):
        key_field = KEYED_SEQUENCES.get(field or "")
        if key_field is not None:
            return _merge_keyed(base, over, key_field)
        out_list = copy_located(base)
        for i, item in enumerate(over):
            out_list.append(copy_located(item))
            out_list.locs.append(_item_loc(over, i))
        return out_list
    return copy_located(over)


def _merge_keyed(base: list, over: list, key_field: str) -> LocList:
    out = copy_located(base)
    index = {
        item.get(key_field): i
        for i, item in enumerate(out)
        if isinstance(item, dict) and item.get(key_field) is not None
    }
    for i, item in enumerate(over):
        key = item.get(key_field) if isinstance(item, dict) else None
        if key is not None and key in index:
            out[index[key]] = merge(out[index[key]], item)
        else:
            if key is not None:
                index[key] = len(out)
            out.append(copy_located(item))
            out.locs.append(_item_loc(over, i))
    return out


def _item_loc(items: list, i: int) -> Any:
    locs = getattr(items, "locs", [])
    return locs[i] if i < len(locs) else None
