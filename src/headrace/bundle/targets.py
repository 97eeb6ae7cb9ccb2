"""A bundle's target: picking it, laying its overrides over the top-level configuration, its
mode and presets applied to each job, and the `${workspace.*}` and current-user values."""

from __future__ import annotations

import getpass
import re
from collections.abc import Mapping
from typing import Any

from headrace.bundle.issues import Issues
from headrace.bundle.located import LocDict
from headrace.bundle.merge import merge
from headrace.spec._issues import did_you_mean

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
MODES = ("development", "production")
# Development mode lets a developer start runs while others are going (Databricks uses 4).
DEVELOPMENT_MAX_CONCURRENT_RUNS = 4


def bundle_name(config: LocDict, issues: Issues) -> str:
    bundle = config.get("bundle")
    if not isinstance(bundle, dict) or not isinstance(bundle.get("name"), str):
        issues.add(config.locs.get("bundle", config.loc), "bundle.name", "is required")
        return ""
    if "${" in bundle["name"]:
        issues.add(bundle.locs.get("name"), "bundle.name", "cannot use ${...} references")
    return bundle["name"]


def pick_target(config: LocDict, wanted: str | None, issues: Issues) -> tuple[str, LocDict]:
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


def apply_target(config: LocDict, target: LocDict) -> LocDict:
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


def target_mode(target: LocDict, issues: Issues) -> str | None:
    mode = target.get("mode")
    if mode is not None and mode not in MODES:
        issues.add(target.locs.get("mode"), "mode", f"must be one of {', '.join(MODES)}")
    return mode


def current_user(env: Mapping[str, str]) -> dict[str, str]:
    """The local stand-in for `${workspace.current_user...}`: the OS user."""
    user = env.get("DATABRICKS_USER") or getpass.getuser()
    short = re.sub(r"[^A-Za-z0-9]", "_", user.split("@")[0]).lower()
    return {"userName": user, "short_name": short, "displayName": user}


def workspace_paths(
    config: LocDict, name: str, target: str, user: dict[str, str]
) -> dict[str, Any]:
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


def with_presets(
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
