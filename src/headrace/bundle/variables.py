"""A bundle's variables: each one's value (--var, BUNDLE_VAR_<name>, the target, the
default, or a `lookup` Headrace can answer) and the references between them resolved."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from headrace.bundle.checks import WAREHOUSE_FALLBACK_ENV
from headrace.bundle.interpolate import interpolate, lookup
from headrace.bundle.issues import Issues
from headrace.bundle.located import Loc, LocDict
from headrace.spec._issues import did_you_mean

VARIABLE_KEYS = frozenset({"description", "default", "type", "lookup"})
# `lookup` kinds the Databricks CLI resolves in the workspace (bundle/config/variable/lookup.go).
LOOKUP_KINDS = frozenset(
    {
        "alert",
        "cluster_policy",
        "cluster",
        "dashboard",
        "instance_pool",
        "job",
        "metastore",
        "notification_destination",
        "pipeline",
        "query",
        "service_principal",
        "warehouse",
    }
)


def variable_values(
    config: LocDict,
    target: LocDict,
    given: Mapping[str, str],
    env: Mapping[str, str],
    fixed_scope: Mapping[str, Any],
    issues: Issues,
    warehouse_fallback: str | None = None,
) -> dict[str, Any]:
    """Each variable's value: --var, then BUNDLE_VAR_<name>, then the target's, then default.

    A `lookup` variable (a workspace object by name) takes the first of these that is given, as
    in the CLI (a set value skips the lookup); a warehouse lookup takes the opt-in warehouse
    mapping; else it is an error naming the variable.
    """
    declared = config.get("variables") or LocDict()
    if not isinstance(declared, dict):
        issues.add(config.locs.get("variables"), "variables", "must be a mapping")
        return {}
    for name, spec in declared.items():
        if not isinstance(spec, dict):
            issues.add(
                declared.locs.get(name),
                f"variables.{name}",
                "must be a mapping (description, default, type)",
            )
            continue
        for key in spec:
            if key not in VARIABLE_KEYS:
                why = f"unknown field '{key}'{did_you_mean(str(key), VARIABLE_KEYS)}; ignored"
                issues.warn(spec.locs.get(key), f"variables.{name}.{key}", why)
    overrides = target.get("variables") or LocDict()
    for name in overrides:
        if name not in declared:
            issues.add(
                overrides.locs.get(name),
                f"variables.{name}",
                f"is set by the target but not declared{did_you_mean(str(name), declared)}",
            )
    for name in given:
        if name not in declared:
            issues.add(None, f"--var {name}", f"no such variable{did_you_mean(name, declared)}")
    values: dict[str, Any] = {}
    locs: dict[str, Loc | None] = {}
    for name, spec in declared.items():
        if not isinstance(spec, dict):
            continue
        override = overrides.get(name) if name in overrides else None
        target_lookup = isinstance(override, dict) and "lookup" in override
        if name in given:
            values[name], locs[name] = given[name], None
        elif f"BUNDLE_VAR_{name}" in env:
            values[name], locs[name] = env[f"BUNDLE_VAR_{name}"], None
        elif name in overrides and not target_lookup:
            value = override
            if isinstance(value, dict) and "default" in value and spec.get("type") != "complex":
                value = value["default"]
            values[name], locs[name] = value, overrides.locs.get(name)
        elif "lookup" in spec or target_lookup:
            found = override["lookup"] if target_lookup else spec["lookup"]
            loc = overrides.locs.get(name) if target_lookup else spec.locs.get("lookup")
            value = _lookup_value(name, found, loc, issues, warehouse_fallback)
            if value is not None:
                values[name], locs[name] = value, loc
        elif "default" in spec:
            values[name], locs[name] = spec["default"], spec.locs.get("default")
        else:
            issues.add(
                declared.locs.get(name),
                f"variables.{name}",
                "has no value: give a default, set it in the target, "
                f"pass --var {name}=VALUE or set BUNDLE_VAR_{name}",
            )
    _resolve_variable_references(values, locs, fixed_scope, issues)
    return values


def _lookup_value(
    name: str, found: Any, loc: Loc | None, issues: Issues, warehouse_fallback: str | None
) -> str | None:
    """A lookup's value, or None after reporting why there is none."""
    kinds = [k for k in found if k in LOOKUP_KINDS] if isinstance(found, dict) else []
    if len(kinds) != 1:
        issues.add(
            loc,
            f"variables.{name}.lookup",
            f"name exactly one of: {', '.join(sorted(LOOKUP_KINDS))}",
        )
        return None
    if kinds[0] == "warehouse" and warehouse_fallback is not None:
        return warehouse_fallback
    issues.add(
        loc,
        f"variables.{name}",
        f"looks up {kinds[0]} {found[kinds[0]]!r} in a Databricks workspace, which Headrace "
        f"cannot do: pass --var {name}=VALUE, set BUNDLE_VAR_{name} or give the target a value"
        + (f" (or set {WAREHOUSE_FALLBACK_ENV}=default)" if kinds[0] == "warehouse" else ""),
    )
    return None


def _resolve_variable_references(
    values: dict[str, Any],
    locs: dict[str, Loc | None],
    fixed_scope: Mapping[str, Any],
    issues: Issues,
) -> None:
    """Variables may name other variables, the bundle and the workspace; resolve to a fixed
    point."""
    for _ in range(len(values) + 1):
        changed = False
        for name, value in list(values.items()):

            def resolve(ref: str) -> Any:
                return lookup(ref, {"var": values, **fixed_scope})

            def on_error(loc: Loc | None, message: str, name: str = name) -> None:
                issues.add(loc, f"variables.{name}", message)

            new = interpolate(value, resolve, on_error, locs.get(name))
            if new != value:
                values[name] = new
                changed = True
        if not changed:
            return
    for name, value in values.items():
        if "${var." in str(value):
            issues.add(locs.get(name), f"variables.{name}", "refers to itself through ${var...}")
