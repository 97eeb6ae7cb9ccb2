"""Bundle checks and derived settings: run_as, permissions, warehouse ids, ignored settings.

Split from the loader; each function takes the loader's issue collector (`add`/`warn`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from headrace.bundle.located import Loc, LocDict, LocList
from headrace.spec._issues import did_you_mean
from headrace.spec.references import NAMESPACES as DYNAMIC_NAMESPACES

if TYPE_CHECKING:
    from headrace.bundle.loader import BundleJob

# The opt-in mapping of Databricks SQL warehouse ids: every id Headrace has no warehouse for
# becomes this one (e.g. "default", the embedded DuckDB warehouse). See docs/bundles.md.
WAREHOUSE_FALLBACK_ENV = "HEADRACE_BUNDLE_WAREHOUSE"
# Presets Headrace accepts and does not act on (no pipelines development mode, no source-linked
# deployments, wheels are not renamed): named in a warning.
PRESET_KEYS = frozenset(
    {
        "name_prefix",
        "pipelines_development",
        "trigger_pause_status",
        "jobs_max_concurrent_runs",
        "source_linked_deployment",
        "artifacts_dynamic_version",
        "tags",
    }
)
SYNC_KEYS = frozenset({"include", "exclude", "paths"})
IGNORED_PRESETS = ("pipelines_development", "source_linked_deployment", "artifacts_dynamic_version")


def plain(value: Any) -> Any:
    """Located data as plain dicts and lists."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def check_run_as(run_as: Any, loc: Loc | None, where: str, issues: Any) -> None:
    if run_as is None:
        return
    names = [
        k
        for k in ("user_name", "service_principal_name")
        if isinstance(run_as, dict) and run_as.get(k)
    ]
    if len(names) != 1:
        issues.add(loc, where, "set exactly one of user_name, service_principal_name")


PERMISSION_LEVELS = ("CAN_VIEW", "CAN_RUN", "CAN_MANAGE", "CAN_MANAGE_RUN", "IS_OWNER")
PRINCIPALS = ("user_name", "group_name", "service_principal_name")


def check_permissions(items: Any, loc: Loc | None, where: str, issues: Any) -> None:
    if not isinstance(items, list):
        issues.add(loc, f"{where}.permissions", "must be a list of {level, user_name|group_name}")
        return
    for i, item in enumerate(items):
        here = f"{where}.permissions[{i}]" if where != "permissions" else f"permissions[{i}]"
        item_loc = items.locs[i] if isinstance(items, LocList) and i < len(items.locs) else loc
        if not isinstance(item, dict):
            issues.add(item_loc, here, "must be a mapping {level, user_name|group_name}")
            continue
        if item.get("level") not in PERMISSION_LEVELS:
            issues.add(
                item_loc,
                f"{here}.level",
                f"must be one of {', '.join(PERMISSION_LEVELS)} (got {item.get('level')!r})",
            )
        if len([p for p in PRINCIPALS if item.get(p)]) != 1:
            issues.add(item_loc, here, f"set exactly one of {', '.join(PRINCIPALS)}")


def merged_permissions(
    bundle_level: list[dict[str, Any]], job_level: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """A job's access list: its own entries, then the bundle's (as the CLI's
    ApplyBundlePermissions: CAN_RUN becomes the jobs level CAN_MANAGE_RUN)."""
    out: list[dict[str, Any]] = []
    for item in [*plain(job_level), *plain(bundle_level)]:
        if not isinstance(item, dict):
            continue
        entry = {k: v for k, v in item.items() if k in ("level", *PRINCIPALS)}
        if entry.get("level") == "CAN_RUN":
            entry["level"] = "CAN_MANAGE_RUN"
        if entry not in out:
            out.append(entry)
    return out


def sync_settings(config: LocDict, issues: Any) -> dict[str, list[str]]:
    sync = config.get("sync")
    if sync is None:
        return {}
    if not isinstance(sync, dict):
        issues.add(config.locs.get("sync"), "sync", "must be a mapping (include, exclude, paths)")
        return {}
    out: dict[str, list[str]] = {}
    for key, value in sync.items():
        if key not in SYNC_KEYS:
            why = f"unknown field '{key}'{did_you_mean(str(key), SYNC_KEYS)}; ignored"
            issues.warn(sync.locs.get(key), f"sync.{key}", why)
            continue
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            issues.add(sync.locs.get(key), f"sync.{key}", "must be a list of paths or patterns")
            continue
        out[str(key)] = list(value)
    return out


def check_presets(presets: Any, issues: Any) -> None:
    if not isinstance(presets, dict):
        return
    for key in presets:
        if key not in PRESET_KEYS:
            why = f"unknown field '{key}'{did_you_mean(str(key), PRESET_KEYS)}; ignored"
            issues.warn(
                presets.locs.get(key) if isinstance(presets, LocDict) else None,
                f"presets.{key}",
                why,
            )


def map_warehouses(
    job: LocDict, fallback: str | None, env: Mapping[str, str]
) -> list[tuple[str, str]]:
    """(warehouse id, where) for each warehouse id Headrace has no warehouse for; with the
    opt-in fallback those ids are replaced by it."""
    from headrace.warehouse.config import DEFAULT_ID

    found = []
    for i, task in enumerate(job.get("tasks") or []):
        if not isinstance(task, dict):
            continue
        for section in ("sql_task", "notebook_task", "dbt_task"):
            settings = task.get(section)
            wid = settings.get("warehouse_id") if isinstance(settings, dict) else None
            if (
                not isinstance(wid, str)
                or not wid
                or wid == DEFAULT_ID
                or known_warehouse(wid, env)
            ):
                continue
            found.append((wid, f"tasks[{i}].{section}.warehouse_id"))
            if fallback is not None:
                settings["warehouse_id"] = fallback
    return found


def known_warehouse(warehouse_id: str, env: Mapping[str, str]) -> bool:
    from headrace.warehouse.config import resolve
    from headrace.warehouse.errors import WarehouseError

    if "{{" in warehouse_id:
        return True  # a run-time reference: checked when the task runs
    try:
        resolve(warehouse_id)
    except WarehouseError:
        return False
    return True


def warehouse_warning(warehouses: Mapping[str, str], fallback: str | None) -> str:
    ids = ", ".join(sorted(warehouses))
    if fallback is not None:
        return f"warehouse_id {ids}: no such warehouse here; run on '{fallback}' ({WAREHOUSE_FALLBACK_ENV})"
    return (
        f"warehouse_id {ids}: no such warehouse here; configure HEADRACE_WAREHOUSE_<ID>_URL or "
        f"set {WAREHOUSE_FALLBACK_ENV}=default to run them on the embedded warehouse"
    )


# Job and task settings Headrace accepts and does not act on: (field, what Headrace does instead).
IGNORED_JOB_SETTINGS = (
    ("budget_policy_id", "no budgets"),
    ("usage_policy_id", "no usage policies"),
    ("performance_target", "one performance level"),
    ("edit_mode", "jobs are always editable"),
    ("deployment", "no deployment metadata kept"),
    ("parent_path", "no workspace folders for jobs"),
)
IGNORED_TASK_SETTINGS = (("compute", "tasks run on this machine"),)
# Trigger kinds the trigger loop does not act on (engine/triggers.py).
IGNORED_TRIGGER_KINDS = ("table", "job_completion", "model", "sql_condition")


def ignored_settings(jobs: Mapping[str, BundleJob], presets: Any) -> list[str]:
    """A warning per setting that Headrace accepts and ignores, naming it."""
    out = []
    for key, job in jobs.items():
        for name, instead in IGNORED_JOB_SETTINGS:
            if getattr(job.settings, name, None) is not None:
                out.append(f"resources.jobs.{key}.{name}: ignored by Headrace ({instead})")
        for task in job.settings.tasks:
            for name, instead in IGNORED_TASK_SETTINGS:
                if getattr(task, name, None) is not None:
                    out.append(
                        f"resources.jobs.{key}.tasks[{task.task_key}].{name}: ignored by "
                        f"Headrace ({instead})"
                    )
        trigger = job.settings.trigger
        for kind in IGNORED_TRIGGER_KINDS:
            if trigger is not None and getattr(trigger, kind, None) is not None:
                out.append(
                    f"resources.jobs.{key}.trigger.{kind}: accepted, never fires in Headrace; "
                    "start the job by hand, on a schedule or with another trigger"
                )
        job_parameters = {p.name for p in job.settings.parameters or []}
        for task in job.settings.tasks:
            out += _sql_file_markers(key, task, job_parameters)
    if isinstance(presets, dict):
        for name in IGNORED_PRESETS:
            if presets.get(name):
                out.append(f"presets.{name}: ignored by Headrace")
    return out


def _sql_file_markers(key: str, task: Any, job_parameters: set[str]) -> list[str]:
    """`{{name}}` parameters in a task's SQL that neither the task nor the job gives."""
    from headrace.warehouse import braces

    sql = task.sql_task
    if sql is None:
        return []
    text, where = None, "query.query_text"
    if sql.query is not None and getattr(sql.query, "query_text", None):
        text = sql.query.query_text
    path = sql.file.path if sql.file is not None else None
    if path and os.path.isfile(path):
        try:
            text, where = Path(path).read_text(encoding="utf-8", errors="replace"), path
        except OSError:
            return []
    if not text:
        return []
    given = set(sql.parameters or {}) | job_parameters
    names = [n for n in braces.names(text) if n not in DYNAMIC_NAMESPACES and n not in given]
    if not names:
        return []
    marks = ", ".join("{{" + n + "}}" for n in names)
    return [
        f"resources.jobs.{key}.tasks[{task.task_key}].sql_task: {marks} in {where} given by "
        "neither sql_task.parameters nor the job's parameters; the task fails unless run-now "
        "gives them"
    ]


def resource_warnings(
    resources: Mapping[str, Any], target: Mapping[str, Any], target_name: str
) -> list[str]:
    """Warnings for resource and target settings Headrace accepts and does not apply."""
    out = []
    for kind in ("schemas", "volumes", "secret_scopes"):
        entries = resources.get(kind)
        for key, fields in entries.items() if isinstance(entries, Mapping) else ():
            for name in ("grants", "permissions"):
                if isinstance(fields, Mapping) and fields.get(name):
                    out.append(
                        f"resources.{kind}.{key}.{name}: not applied by Headrace "
                        "(no Unity Catalog privileges here)"
                    )
    for name in ("cluster_id", "compute_id"):
        if target.get(name):
            out.append(
                f"targets.{target_name}.{name}: ignored by Headrace (tasks keep their own compute)"
            )
    return out
