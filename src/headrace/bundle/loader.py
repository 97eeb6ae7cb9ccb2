"""Load a Databricks Asset Bundle (`databricks.yml`) into validated job settings for a target.

Steps, as the Databricks CLI takes them: read the root file and its `include`s, pick the target,
lay the target's overrides over the top-level configuration, give variables their values, resolve
`${...}` references, apply the target's mode and presets, make file paths absolute against the
YAML file that names them, and validate each job with the same code as `headrace validate`.
Every problem is reported with its file and line (`issues.py`).

This module runs the steps; each lives beside it: `reading.py` (the root file and its includes),
`targets.py` (the target, its mode and presets, `${workspace.*}`), `variables.py` (variable
values and lookups), `paths.py` (file paths made absolute), `checks.py` (run_as, permissions,
presets, sync, warnings).
"""

from __future__ import annotations

import os
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
from headrace.bundle.issues import Issues
from headrace.bundle.libraries import apply_libraries
from headrace.bundle.located import Loc, LocDict, LocList, loc_at, parse_path
from headrace.bundle.paths import base_folder, resolve_paths, resolve_pipeline_paths
from headrace.bundle.python_resources import add_python_resources
from headrace.bundle.reading import read_all
from headrace.bundle.targets import (
    apply_target,
    bundle_name,
    current_user,
    pick_target,
    target_mode,
    with_presets,
    workspace_paths,
)
from headrace.bundle.variables import variable_values
from headrace.errors import SpecError
from headrace.spec.models import JobSettings

ROOT_NAMES = ("databricks.yml", "databricks.yaml", "bundle.yml", "bundle.yaml")
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
    issues = Issues(root_file.parent)
    config = read_all(root_file, issues)
    issues.raise_if_any(root_file)

    name = bundle_name(config, issues)
    target_name, target_cfg = pick_target(config, target, issues)
    issues.raise_if_any(root_file)
    config = apply_target(config, target_cfg)
    mode = target_mode(target_cfg, issues)
    user = current_user(env)
    workspace = workspace_paths(config, name, target_name, user)
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
    values = variable_values(
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
        job = with_presets(job, key, mode, presets, user)
        job_permissions = job.pop("permissions", None) or []
        check_permissions(job_permissions, job.locs.get("permissions"), where, issues)
        if run_as and "run_as" not in job:
            job["run_as"] = dict(run_as)
        check_run_as(job.get("run_as"), job.locs.get("run_as"), f"{where}.run_as", issues)
        apply_libraries(job, where, root_file.parent, base_folder, issues.add, issues.warn)
        resolve_paths(job, root_file.parent)
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
                resolve_pipeline_paths(pipeline, root_file.parent)
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
    resources: LocDict, base_scope: Mapping[str, Any], ids: Mapping[str, Any], issues: Issues
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


def _validate_job(job: LocDict, where: str, loc: Loc | None, issues: Issues) -> JobSettings:
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
