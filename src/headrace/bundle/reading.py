"""Reading a bundle's root file and the files it `include`s into one located mapping (the
CLI's ProcessRootIncludes): unknown top-level keys warned about and dropped, `environments`
taken as the old name of `targets`, each resource defined in one file only."""

from __future__ import annotations

import os
from pathlib import Path

from headrace.bundle.issues import Issues
from headrace.bundle.located import Loc, LocDict, load_located
from headrace.bundle.merge import merge
from headrace.errors import SpecError
from headrace.spec._issues import did_you_mean

TOP_KEYS = frozenset(
    {
        "bundle",
        "include",
        "variables",
        "workspace",
        "resources",
        "targets",
        "artifacts",
        "python",
        "sync",
        "permissions",
        "run_as",
        "presets",
        "experimental",
        "scripts",
        "environments",
    }
)


def read_all(root_file: Path, issues: Issues) -> LocDict:
    """The root file with every included file merged in (the CLI's ProcessRootIncludes)."""
    root = _read_file(root_file, issues, allow_include=True)
    if root is None:
        return LocDict()
    patterns = root.get("include") or []
    if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
        issues.add(root.locs.get("include"), "include", "must be a list of glob patterns")
        return root
    owners: dict[tuple[str, str], Loc | None] = {}
    _note_resources(root, owners, issues)
    seen = {root_file}
    for i, pattern in enumerate(patterns):
        loc = root["include"].locs[i] if i < len(root["include"].locs) else None
        if os.path.isabs(pattern):
            issues.add(loc, f"include[{i}]", f"'{pattern}': includes must be relative paths")
            continue
        matches = sorted(p for p in root_file.parent.glob(pattern) if p.is_file())
        if not matches and not any(c in pattern for c in "*?["):
            # A glob matching nothing is fine (templates ship resources/*/*.yml); a plain path
            # that names no file is a mistake.
            issues.add(loc, f"include[{i}]", f"'{pattern}' does not match any files")
        for path in matches:
            if path in seen:
                continue
            seen.add(path)
            if path.suffix not in (".yml", ".yaml", ".json"):
                issues.add(
                    loc,
                    f"include[{i}]",
                    f"{path.relative_to(root_file.parent)} is not a YAML or JSON file "
                    "(files to upload go in sync.include)",
                )
                continue
            part = _read_file(path, issues, allow_include=False)
            if part is not None:
                _note_resources(part, owners, issues)
                root = merge(root, part)
    return root


def _read_file(path: Path, issues: Issues, *, allow_include: bool) -> LocDict | None:
    try:
        data = load_located(path)
    except SpecError as exc:
        issues.items.extend(exc.issues)
        return None
    if data is None:
        return LocDict()
    if not isinstance(data, LocDict):
        issues.add(Loc(path, 1), "", "a bundle file must be a mapping")
        return None
    for key in list(data):
        if key == "include" and not allow_include:
            issues.add(
                data.locs.get(key),
                "include",
                "only the root databricks.yml may include other files",
            )
        elif key not in TOP_KEYS:
            # The CLI warns: such keys are often only YAML anchors (`common: &c {...}`).
            why = f"unknown field '{key}'{did_you_mean(str(key), TOP_KEYS)}; ignored"
            issues.warn(data.locs.get(key), str(key), why)
            del data[key]
    if "environments" in data:
        # The CLI's EnvironmentsToTargets: the old name of `targets`.
        if "targets" in data:
            issues.add(
                data.locs.get("environments"),
                "environments",
                "use targets or environments, not both",
            )
        else:
            data["targets"] = data.pop("environments")
            data.locs["targets"] = data.locs.get("environments")
    return data


def _note_resources(
    part: LocDict, owners: dict[tuple[str, str], Loc | None], issues: Issues
) -> None:
    """Each resource key may be defined in one file only (targets may override it)."""
    resources = part.get("resources")
    if not isinstance(resources, dict):
        return
    for kind, entries in resources.items():
        if not isinstance(entries, dict):
            continue
        for key in entries:
            here = entries.locs.get(key) if isinstance(entries, LocDict) else None
            if (kind, key) in owners:
                first = owners[(kind, key)]
                was = f" (first defined at {first.label(issues.root)})" if first else ""
                issues.add(here, f"resources.{kind}.{key}", f"defined more than once{was}")
            owners[(kind, key)] = here
