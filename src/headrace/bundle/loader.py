"""Load a Databricks Asset Bundle (`databricks.yml`) into validated job settings for a target.

Steps, as the Databricks CLI takes them: read the root file and its `include`s, pick the target,
lay the target's overrides over the top-level configuration, give variables their values, resolve
`${...}` references, apply the target's mode and presets, make file paths absolute against the
YAML file that names them, and validate each job with the same code as `headrace validate`.
Every problem is reported with its file and line.
"""

from __future__ import annotations

import getpass
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from headrace.bundle import resources as bundle_resources
from headrace.bundle.checks import (
    WAREHOUSE_FALLBACK_ENV,
    check_permissions,
    check_presets,
    check_run_as,
    ignored_settings,
    map_warehouses,
    merged_permissions,
    plain,
    resource_warnings,
    sync_settings,
    warehouse_warning,
)
from headrace.bundle.git_info import git_details
from headrace.bundle.interpolate import interpolate, lookup
from headrace.bundle.libraries import apply_libraries
from headrace.bundle.located import Loc, LocDict, LocList, load_located, loc_at, parse_path
from headrace.bundle.merge import merge
from headrace.bundle.python_resources import add_python_resources
from headrace.errors import SpecError, SpecIssue
from headrace.spec._issues import did_you_mean
from headrace.spec.models import JobSettings

ROOT_NAMES = ("databricks.yml", "databricks.yaml", "bundle.yml", "bundle.yaml")
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
TARGET_KEYS = frozenset(
    {
        "default",
        "mode",
        "variables",
        "workspace",
        "resources",
        "artifacts",
        "presets",
        "run_as",
        "permissions",
        "bundle",
        "sync",
        "git",
        "cluster_id",
        "compute_id",
    }
)
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
MODES = ("development", "production")
# Development mode lets a developer start runs while others are going (Databricks uses 4).
DEVELOPMENT_MAX_CONCURRENT_RUNS = 4
# Task fields that name a file, per task type (sql_task.file.path is handled on its own).
_PATH_FIELDS = (
    ("notebook_task", "notebook_path"),
    ("spark_python_task", "python_file"),
    ("shell_command_task", "working_directory"),
    ("dbt_task", "project_directory"),  # the CLI's paths/job_paths_visitor.go
)
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:")
# What `${resources.jobs.<key>.id}` becomes when no job has been created yet (validate).
PLACEHOLDER_JOB_ID = 0


@dataclass(frozen=True)
class BundleJob:
    """One `resources.jobs.<key>` of the bundle, resolved for the target."""

    key: str
    settings: JobSettings
    data: dict[str, Any]
    permissions: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Bundle:
    """A bundle loaded for one target."""

    name: str
    target: str
    mode: str | None
    root_file: Path
    jobs: dict[str, BundleJob]
    variables: dict[str, Any]
    workspace: dict[str, Any]
    artifacts: dict[str, Any]
    python: dict[str, Any] | None
    warnings: list[str] = field(default_factory=list)
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)
    permissions: list[dict[str, Any]] = field(default_factory=list)
    run_as: dict[str, Any] | None = None
    sync: dict[str, list[str]] = field(default_factory=dict)
    git: dict[str, str] = field(default_factory=dict)
    warehouses: dict[str, str] = field(default_factory=dict)
    user: str = ""

    @property
    def root(self) -> Path:
        return self.root_file.parent


class _Issues:
    """Problems found so far, each with its file and line."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.items: list[SpecIssue] = []
        self.warnings: list[str] = []

    def add(self, loc: Loc | None, where: str, message: str) -> None:
        self.items.append(SpecIssue(self._path(loc, where), message))

    def warn(self, loc: Loc | None, where: str, message: str) -> None:
        """A problem the Databricks CLI only warns about (unknown fields, anchor-only keys)."""
        text = f"{self._path(loc, where)}: {message}"
        if text not in self.warnings:
            self.warnings.append(text)

    def _path(self, loc: Loc | None, where: str) -> str:
        label = loc.label(self.root) if loc is not None else ""
        return f"{label}: {where}" if label and where else (label or where)

    def raise_if_any(self, source: Path) -> None:
        if self.items:
            error = SpecError(self.items, source=str(source), what="bundle")
            error.warnings = list(self.warnings)  # type: ignore[attr-defined]
            raise error


def find_root_file(start: Path | None = None) -> Path:
    """The bundle's root file: `start` if it is a file, else looked for upward from `start`."""
    start = (start or Path.cwd()).resolve()
    if start.is_file():
        return start
    if not start.exists():
        raise SpecError(f"no such file or directory: {start}")
    for folder in (start, *start.parents):
        for name in ROOT_NAMES:
            if (folder / name).is_file():
                return folder / name
    raise SpecError(f"no databricks.yml in {start} or any folder above it")


def load_bundle(
    start: Path | None = None,
    *,
    target: str | None = None,
    variables: Mapping[str, str] | None = None,
    env: Mapping[str, str] | None = None,
    resource_ids: Mapping[str, Any] | None = None,
    local: bool = True,
) -> Bundle:
    """The bundle at (or above) `start`, for `target`. Raises: SpecError with every problem.

    `local`: files are used where they are, so `${workspace.file_path}` is the bundle's folder
    (a deploy sets `local=False`: files go to the workspace's file path).
    `resource_ids`: ids of resources that exist, by job key or by `<kind>.<key>`.
    """
    root_file = find_root_file(start)
    env = os.environ if env is None else env
    issues = _Issues(root_file.parent)
    config = _read_all(root_file, issues)
    issues.raise_if_any(root_file)

    name = _bundle_name(config, issues)
    target_name, target_cfg = _pick_target(config, target, issues)
    issues.raise_if_any(root_file)
    config = _apply_target(config, target_cfg)
    mode = _mode(target_cfg, issues)
    user = _current_user(env)
    workspace = _workspace(config, name, target_name, user)
    bundle_cfg = config.get("bundle") if isinstance(config.get("bundle"), dict) else {}
    git_cfg = bundle_cfg.get("git") if isinstance(bundle_cfg.get("git"), dict) else {}
    git = git_details(root_file.parent, git_cfg)
    bundle_scope = {
        **{k: v for k, v in bundle_cfg.items() if isinstance(v, str | int | bool)},
        "name": name,
        "target": target_name,
        "environment": target_name,
        "git": git,
    }
    workspace_scope = {
        **workspace,
        "current_user": user,
        **({"file_path": str(root_file.parent)} if local else {}),
    }
    fixed_scope = {"bundle": bundle_scope, "workspace": workspace_scope}
    warehouse_fallback = env.get(WAREHOUSE_FALLBACK_ENV) or None
    values = _variable_values(
        config, target_cfg, variables or {}, env, fixed_scope, issues, warehouse_fallback
    )
    issues.raise_if_any(root_file)
    warnings = issues.warnings  # printed with the errors too, when there are any
    config = add_python_resources(
        config,
        root_file.parent,
        target=target_name,
        variables=values,
        add_issue=issues.add,
        warnings=warnings,
    )
    issues.raise_if_any(root_file)
    resources = config.get("resources") or LocDict()
    if not isinstance(resources, dict):
        issues.add(config.locs.get("resources"), "resources", "must be a mapping")
        issues.raise_if_any(root_file)
    warnings += bundle_resources.kind_warnings(resources)
    base_scope: dict[str, Any] = {"var": values, **fixed_scope}
    resources = _resolve_resources(resources, base_scope, resource_ids or {}, issues)
    jobs_cfg = resources.get("jobs") or LocDict()
    scope = {**base_scope, "resources": _resource_scope(resources, resource_ids or {})}

    def resolve(ref: str) -> Any:
        return lookup(ref, scope)

    def on_error(loc: Loc | None, message: str) -> None:
        issues.add(loc, "", message)

    artifacts = interpolate(config.get("artifacts") or LocDict(), resolve, on_error)
    presets = interpolate(config.get("presets") or LocDict(), resolve, on_error)
    run_as = interpolate(config.get("run_as"), resolve, on_error)
    permissions = interpolate(config.get("permissions") or LocList(), resolve, on_error)
    sync = sync_settings(config, issues)
    check_presets(presets, issues)
    check_run_as(run_as, config.locs.get("run_as"), "run_as", issues)
    check_permissions(permissions, config.locs.get("permissions"), "permissions", issues)

    jobs: dict[str, BundleJob] = {}
    if not isinstance(jobs_cfg, dict):
        issues.add(getattr(resources, "loc", None), "resources.jobs", "must be a mapping")
        issues.raise_if_any(root_file)
    warehouses: dict[str, str] = {}
    for key, job in jobs_cfg.items():
        where = f"resources.jobs.{key}"
        if not isinstance(job, dict):
            issues.add(jobs_cfg.locs.get(key), where, "must be a mapping of job settings")
            continue
        job = _with_presets(job, key, mode, presets, user)
        job_permissions = job.pop("permissions", None) or []
        check_permissions(job_permissions, job.locs.get("permissions"), where, issues)
        if run_as and "run_as" not in job:
            job["run_as"] = dict(run_as)
        check_run_as(job.get("run_as"), job.locs.get("run_as"), f"{where}.run_as", issues)
        apply_libraries(job, where, root_file.parent, _base_folder, issues.add, issues.warn)
        _resolve_paths(job, root_file.parent)
        for wid, path in map_warehouses(job, warehouse_fallback, env):
            warehouses.setdefault(wid, path if warehouse_fallback is None else warehouse_fallback)
        try:
            settings = _validate_job(job, where, jobs_cfg.locs.get(key), issues)
        except SpecError as exc:
            for issue in exc.issues:
                loc = loc_at(job, parse_path(issue.path)) or jobs_cfg.locs.get(key)
                issues.add(loc, f"{where}.{issue.path}" if issue.path else where, issue.message)
            continue
        merged = merged_permissions(permissions, job_permissions)
        jobs[key] = BundleJob(key, settings, job, merged)
    pipelines = resources.get("pipelines")
    if isinstance(pipelines, dict):
        for pipeline in pipelines.values():
            if isinstance(pipeline, LocDict):
                _resolve_pipeline_paths(pipeline, root_file.parent)
    issues.raise_if_any(root_file)
    warnings = [*warnings, *ignored_settings(jobs, presets)]
    warnings += resource_warnings(resources, target_cfg, target_name)
    if warehouses:
        warnings.append(warehouse_warning(warehouses, warehouse_fallback))
    return Bundle(
        name=name,
        target=target_name,
        mode=mode,
        root_file=root_file,
        jobs=jobs,
        variables=dict(values),
        workspace=workspace,
        artifacts=dict(artifacts),
        python=config.get("python"),
        warnings=warnings,
        resources={
            str(k): plain(v) for k, v in resources.items() if k != "jobs" and isinstance(v, dict)
        },
        permissions=plain(permissions),
        run_as=plain(run_as) if isinstance(run_as, dict) else None,
        sync=sync,
        git=git,
        warehouses=warehouses,
        user=user["userName"],
    )


def _resource_scope(resources: Mapping[str, Any], ids: Mapping[str, Any]) -> dict[str, Any]:
    return bundle_resources.reference_scope(plain(resources), ids)


def _resolve_resources(
    resources: LocDict, base_scope: Mapping[str, Any], ids: Mapping[str, Any], issues: _Issues
) -> LocDict:
    """Every resource with its references resolved. Resources may name each other's fields
    (`schema_name: ${resources.schemas.s.name}`): resolved to a fixed point, and the errors of
    the last round reported."""
    current: Any = resources
    errors: list[tuple[Loc | None, str]] = []
    for _ in range(5):
        scope = {**base_scope, "resources": _resource_scope(current, ids)}
        errors = []

        def resolve(ref: str, scope: Mapping[str, Any] = scope) -> Any:
            return lookup(ref, scope)

        def on_error(loc: Loc | None, message: str, errors: list = errors) -> None:
            errors.append((loc, message))

        new = interpolate(resources, resolve, on_error, getattr(resources, "loc", None))
        stable = plain(new) == plain(current)
        current = new
        if stable:
            break
    for loc, message in errors:
        issues.add(loc, "", message)
    return current


def _validate_job(job: LocDict, where: str, loc: Loc | None, issues: _Issues) -> JobSettings:
    """The job's settings. Unknown fields are warned about and dropped, as the Databricks CLI
    does (`headrace validate FILE` keeps them errors). Raises: SpecError."""
    from headrace.spec.loader import parse_job_settings

    for _ in range(50):
        try:
            return parse_job_settings(job)
        except SpecError as exc:
            unknown = [i for i in exc.issues if i.message.startswith("unknown field")]
            if not unknown:
                raise
            for issue in unknown:
                parts = parse_path(issue.path)
                issues.warn(
                    loc_at(job, parts) or loc,
                    f"{where}.{issue.path}",
                    f"{issue.message}; ignored",
                )
                _drop(job, parts)
    return parse_job_settings(job)


def _drop(value: Any, parts: list[str | int]) -> None:
    for part in parts[:-1]:
        try:
            value = value[part]
        except (KeyError, IndexError, TypeError):
            return
    if isinstance(value, dict):
        value.pop(parts[-1], None)


def _read_all(root_file: Path, issues: _Issues) -> LocDict:
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


def _read_file(path: Path, issues: _Issues, *, allow_include: bool) -> LocDict | None:
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
    part: LocDict, owners: dict[tuple[str, str], Loc | None], issues: _Issues
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


def _bundle_name(config: LocDict, issues: _Issues) -> str:
    bundle = config.get("bundle")
    if not isinstance(bundle, dict) or not isinstance(bundle.get("name"), str):
        issues.add(config.locs.get("bundle", config.loc), "bundle.name", "is required")
        return ""
    if "${" in bundle["name"]:
        issues.add(bundle.locs.get("name"), "bundle.name", "cannot use ${...} references")
    return bundle["name"]


def _pick_target(config: LocDict, wanted: str | None, issues: _Issues) -> tuple[str, LocDict]:
    targets = config.get("targets")
    if targets is None:
        if wanted not in (None, "default"):
            issues.add(None, "targets", f"no target '{wanted}': the bundle defines no targets")
        return "default", LocDict()
    if not isinstance(targets, dict) or not targets:
        issues.add(config.locs.get("targets"), "targets", "must be a non-empty mapping")
        return "", LocDict()
    for name, cfg in targets.items():
        if cfg is None:
            targets[name] = LocDict(loc=targets.locs.get(name))
        elif not isinstance(cfg, dict):
            issues.add(targets.locs.get(name), f"targets.{name}", "must be a mapping")
            return "", LocDict()
        else:
            for key in list(cfg):
                if key not in TARGET_KEYS:
                    why = f"unknown field '{key}'{did_you_mean(str(key), TARGET_KEYS)}; ignored"
                    issues.warn(cfg.locs.get(key), f"targets.{name}.{key}", why)
    if wanted is not None:
        if wanted not in targets:
            known = ", ".join(targets)
            issues.add(None, "--target", f"no target '{wanted}' (the bundle has: {known})")
            return "", LocDict()
        return wanted, targets[wanted]
    defaults = [n for n, cfg in targets.items() if cfg.get("default") is True]
    if len(defaults) > 1:
        issues.add(config.locs.get("targets"), "targets", f"more than one default: {defaults}")
        return "", LocDict()
    if defaults:
        return defaults[0], targets[defaults[0]]
    if len(targets) == 1:
        only = next(iter(targets))
        return only, targets[only]
    known = ", ".join(targets)
    issues.add(None, "--target", f"choose a target with -t (no default among: {known})")
    return "", LocDict()


def _apply_target(config: LocDict, target: LocDict) -> LocDict:
    """The top-level configuration with the target's overrides laid over it."""
    base = LocDict({k: v for k, v in config.items() if k != "targets"}, loc=config.loc)
    base.locs = {k: v for k, v in config.locs.items() if k != "targets"}
    over = LocDict(loc=target.loc)
    for key in ("resources", "artifacts", "workspace", "presets", "run_as", "permissions", "sync"):
        if key in target:
            over[key] = target[key]
            over.locs[key] = target.locs.get(key)
    bundle = LocDict(loc=target.loc)
    if isinstance(target.get("bundle"), dict):
        bundle = merge(bundle, target["bundle"])
    if isinstance(target.get("git"), dict):
        bundle["git"] = merge(bundle.get("git", LocDict()), target["git"])
    if bundle:
        over["bundle"] = bundle
    return merge(base, over)


def _mode(target: LocDict, issues: _Issues) -> str | None:
    mode = target.get("mode")
    if mode is not None and mode not in MODES:
        issues.add(target.locs.get("mode"), "mode", f"must be one of {', '.join(MODES)}")
    return mode


def _variable_values(
    config: LocDict,
    target: LocDict,
    given: Mapping[str, str],
    env: Mapping[str, str],
    fixed_scope: Mapping[str, Any],
    issues: _Issues,
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
    name: str, found: Any, loc: Loc | None, issues: _Issues, warehouse_fallback: str | None
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
    issues: _Issues,
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


def _current_user(env: Mapping[str, str]) -> dict[str, str]:
    """The local stand-in for `${workspace.current_user...}`: the OS user."""
    user = env.get("DATABRICKS_USER") or getpass.getuser()
    short = re.sub(r"[^A-Za-z0-9]", "_", user.split("@")[0]).lower()
    return {"userName": user, "short_name": short, "displayName": user}


def _workspace(config: LocDict, name: str, target: str, user: dict[str, str]) -> dict[str, Any]:
    """`${workspace.*}`: the configured values, with Databricks' defaults for the paths."""
    configured = config.get("workspace") if isinstance(config.get("workspace"), dict) else {}
    root_path = configured.get("root_path") or (
        f"/Workspace/Users/{user['userName']}/.bundle/{name}/{target}"
    )

    def resolved(path: Any) -> str:
        # The CLI resolves these in every workspace path (the default-scala template's
        # artifact_path is /Volumes/.../${bundle.name}/${bundle.target}/${...short_name}).
        text = str(path).replace("${bundle.name}", name).replace("${bundle.target}", target)
        text = text.replace("${workspace.current_user.userName}", user["userName"])
        return text.replace("${workspace.current_user.short_name}", user["short_name"])

    root_path = resolved(root_path)
    return {
        "host": configured.get("host", ""),
        "profile": configured.get("profile", ""),
        "root_path": root_path,
        "file_path": resolved(configured.get("file_path") or f"{root_path}/files"),
        "artifact_path": resolved(configured.get("artifact_path") or f"{root_path}/artifacts"),
        "state_path": resolved(configured.get("state_path") or f"{root_path}/state"),
    }


def _with_presets(
    job: LocDict, key: str, mode: str | None, presets: Mapping[str, Any], user: dict[str, str]
) -> LocDict:
    """The target's mode and presets applied to one job (Databricks' development mode)."""
    job = merge(job, LocDict())
    job.setdefault("name", key)
    prefix = presets.get("name_prefix")
    pause = presets.get("trigger_pause_status")
    max_runs = presets.get("jobs_max_concurrent_runs")
    tags = dict(presets.get("tags") or {})
    if mode == "development":
        prefix = prefix if prefix is not None else f"[dev {user['short_name']}] "
        pause = pause or "PAUSED"
        max_runs = max_runs or DEVELOPMENT_MAX_CONCURRENT_RUNS
        tags.setdefault("dev", user["short_name"])
    if prefix:
        job["name"] = f"{prefix}{job['name']}"
    if pause:
        for section in ("schedule", "trigger", "continuous"):
            if isinstance(job.get(section), dict):
                job[section] = merge(job[section], LocDict(pause_status=pause))
    if max_runs and "max_concurrent_runs" not in job:
        job["max_concurrent_runs"] = max_runs
    if tags:
        existing = job.get("tags") if isinstance(job.get("tags"), dict) else {}
        job["tags"] = {**tags, **existing}
    return job


def _resolve_paths(job: LocDict, root: Path) -> None:
    """Relative file paths made absolute against the folder of the YAML file that set them."""
    in_git = job.get("git_source") is not None
    for task in job.get("tasks") or []:
        if isinstance(task, dict):
            _resolve_task_paths(task, root, in_git)
    from headrace.spec.loader import resolve_dependency

    for env in job.get("environments") or []:
        spec = env.get("spec") if isinstance(env, dict) else None
        deps = spec.get("dependencies") if isinstance(spec, dict) else None
        if not isinstance(deps, list):
            continue
        for i, dep in enumerate(deps):
            loc = deps.locs[i] if isinstance(deps, LocList) and i < len(deps.locs) else None
            base = _base_folder(loc, root)
            if isinstance(dep, str):
                deps[i] = resolve_dependency(dep, str(base))


def _resolve_task_paths(task: LocDict, root: Path, in_git: bool) -> None:
    for type_name, field_name in _PATH_FIELDS:
        settings = task.get(type_name)
        if isinstance(settings, dict):
            _resolve_field(settings, field_name, root, in_git)
    sql = task.get("sql_task")
    if isinstance(sql, dict) and isinstance(sql.get("file"), dict):
        _resolve_field(sql["file"], "path", root, in_git)
    loop = task.get("for_each_task")
    if isinstance(loop, dict) and isinstance(loop.get("task"), dict):
        _resolve_task_paths(loop["task"], root, in_git)


def _resolve_pipeline_paths(pipeline: LocDict, root: Path) -> None:
    """A pipeline's source paths (`libraries[].notebook|file.path`, `glob.include`,
    `root_path`) made absolute against the YAML file that names them, as the CLI's
    translate_paths_pipelines."""
    if isinstance(pipeline.get("root_path"), str):
        _resolve_field(pipeline, "root_path", root, False)
    for library in pipeline.get("libraries") or []:
        if not isinstance(library, dict):
            continue
        for kind, name in (("notebook", "path"), ("file", "path"), ("glob", "include")):
            if isinstance(library.get(kind), LocDict):
                _resolve_field(library[kind], name, root, False)


def _base_folder(loc: Loc | None, root: Path) -> Path:
    """What a relative path is relative to: the YAML file that sets it; for Python-defined
    resources (databricks-bundles), the bundle root, as the CLI loads their output there."""
    if loc is None or loc.file.suffix == ".py":
        return root
    return loc.file.parent


def _resolve_field(settings: LocDict, name: str, root: Path, in_git: bool) -> None:
    value = settings.get(name)
    source = settings.get("source")
    if source == "GIT" or (source is None and in_git):
        return
    if not isinstance(value, str) or not value or os.path.isabs(value) or _URL.match(value):
        return
    if value.startswith("{{"):
        return
    loc = settings.locs.get(name) if isinstance(settings, LocDict) else None
    base = _base_folder(loc, root)
    settings[name] = os.path.normpath(os.path.join(base, value))
