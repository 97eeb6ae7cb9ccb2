"""YAML that remembers where each value came from, so bundle errors name a file and a line.

A loaded document is plain dicts and lists (subclasses `LocDict`/`LocList`) whose `locs` give the
`Loc` of each key or item. Merging and interpolation copy those, so an error found after a target
override still points at the line that set the value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from headrace.errors import SpecError, SpecIssue


@dataclass(frozen=True)
class Loc:
    """A place in a YAML file (line is 1-based)."""

    file: Path
    line: int

    def label(self, root: Path) -> str:
        try:
            name = self.file.relative_to(root)
        except ValueError:
            name = self.file
        return f"{name}:{self.line}"


class LocDict(dict):
    """A mapping with the location of each key's value (`locs`) and of itself (`loc`)."""

    loc: Loc | None = None
    locs: dict[Any, Loc]

    def __init__(self, *args: Any, loc: Loc | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.loc = loc
        self.locs = {}


class LocList(list):
    """A sequence with the location of each item (`locs`) and of itself (`loc`)."""

    loc: Loc | None = None
    locs: list[Loc | None]

    def __init__(self, *args: Any, loc: Loc | None = None) -> None:
        super().__init__(*args)
        self.loc = loc
        self.locs = []


def load_located(path: Path) -> Any:
    """Parse a YAML file into `LocDict`/`LocList`/scalars. Raises: SpecError (with the line)."""
    import yaml

    from headrace.spec.bounds import read_spec_file, yaml_node_error

    text = read_spec_file(path)  # SpecError: missing, not a regular file, too large
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        reason = yaml_node_error(node)  # before _build copies every alias
        if reason is not None:
            raise SpecError(f"{path}: refused YAML: {reason}")
        return _build(loader, node, path)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        raise SpecError([SpecIssue(f"{path}:{line}", f"invalid YAML: {exc.problem}")]) from None
    except yaml.YAMLError as exc:
        raise SpecError(f"{path}: invalid YAML: {exc}") from None
    finally:
        loader.dispose()


def _build(loader: Any, node: Any, path: Path) -> Any:
    import yaml

    loc = Loc(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        own = sum(1 for k, _ in node.value if k.tag != "tag:yaml.org,2002:merge")
        loader.flatten_mapping(node)  # YAML merge keys (<<: *anchor)
        merged = len(node.value) - own  # flattened keys come first; the mapping's own win
        out = LocDict(loc=loc)
        from_merge: set[Any] = set()
        for index, (key_node, value_node) in enumerate(node.value):
            key = loader.construct_object(key_node, deep=True)
            if index < merged:
                from_merge.add(key)
            elif key in from_merge:
                from_merge.discard(key)
            elif key in out:
                line = key_node.start_mark.line + 1
                raise SpecError([SpecIssue(f"{path}:{line}", f"duplicate key '{key}'")])
            out[key] = _build(loader, value_node, path)
            out.locs[key] = Loc(path, key_node.start_mark.line + 1)
        return out
    if isinstance(node, yaml.SequenceNode):
        items = LocList(loc=loc)
        for item in node.value:
            items.append(_build(loader, item, path))
            items.locs.append(Loc(path, item.start_mark.line + 1))
        return items
    return loader.construct_object(node, deep=True)


def copy_located(value: Any) -> Any:
    """A deep copy that keeps locations."""
    if isinstance(value, dict):
        out = LocDict(loc=getattr(value, "loc", None))
        for key, item in value.items():
            out[key] = copy_located(item)
        out.locs = dict(getattr(value, "locs", {}))
        return out
    if isinstance(value, list):
        items = LocList((copy_located(v) for v in value), loc=getattr(value, "loc", None))
        locs = list(getattr(value, "locs", []))
        items.locs = locs + [None] * (len(items) - len(locs))
        return items
    return value


def loc_at(value: Any, path: list[str | int]) -> Loc | None:
    """The location of the deepest part of `path` that has one."""
    best = getattr(value, "loc", None)
    for part in path:
        if isinstance(value, dict) and part in value:
            best = value.locs.get(part, best) if isinstance(value, LocDict) else best
            value = value[part]
        elif isinstance(value, list) and isinstance(part, int) and 0 <= part < len(value):
            if isinstance(value, LocList) and part < len(value.locs):
                best = value.locs[part] or best
            value = value[part]
        else:
            break
        inner = getattr(value, "loc", None)
        if inner is not None and not isinstance(value, dict | list):
            best = inner
    return best


_PART = re.compile(r"\[(\d+)\]|\['((?:[^'\\]|\\.)*)'\]|\[\"([^\"]*)\"\]|\.?([^.\[\]]+)")


def parse_path(text: str) -> list[str | int]:
    """`tasks[2].depends_on[0].task_key` (as `format_path` writes it) -> its parts."""
    parts: list[str | int] = []
    for index, single, double, name in _PART.findall(text):
        if index:
            parts.append(int(index))
        else:
            parts.append(single or double or name)
    return parts
