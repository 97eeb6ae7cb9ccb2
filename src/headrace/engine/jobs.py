"""Stored jobs: create, update, reset, delete — each a new version — and who may do what.

Permissions follow Databricks: CAN_VIEW < CAN_MANAGE_RUN < CAN_MANAGE < IS_OWNER; the creator
owns the job; admins may do everything; the group `users` holds every user. Acting on a job
one may not see is answered PermissionDenied (403), and such jobs are left out of lists.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from headrace.clock import now_ms
from headrace.engine.run_plan import settings_to_json
from headrace.errors import PermissionDenied, SpecError, SpecIssue
from headrace.spec.loader import parse_job_settings
from headrace.spec.models import JobSettings
from headrace.store import jobs as job_store
from headrace.store.db import Store
from headrace.store.records import Job
from headrace.store.sql import Tx as Connection

LEVELS = ("CAN_VIEW", "CAN_MANAGE_RUN", "CAN_MANAGE", "IS_OWNER")
ALL_USERS_GROUP = "users"
_PRINCIPAL_KEYS = {
    "user_name": "user",
    "group_name": "group",
    "service_principal_name": "service_principal",
}


@dataclass(frozen=True)
class Principal:
    """Who is asking: a user (from their token), maybe an admin."""

    user_name: str
    admin: bool = False

    @property
    def groups(self) -> list[str]:
        return [ALL_USERS_GROUP]


def level_rank(level: str | None) -> int:
    return LEVELS.index(level) + 1 if level in LEVELS else 0


def effective_level(conn: Connection, principal: Principal, job_id: int) -> str | None:
    """The highest permission `principal` holds on a job (admins: IS_OWNER)."""
    if principal.admin:
        return "IS_OWNER"
    return level_from_entries(job_store.permissions_of(conn, job_id), principal)


def level_from_entries(entries: list[dict[str, str]], principal: Principal) -> str | None:
    """The highest level `principal` holds in an access control list already read.

    Lists read in one batch (the jobs page) use this directly, so the rule lives here once.
    """
    if principal.admin:
        return "IS_OWNER"
    best: str | None = None
    for entry in entries:
        mine = (
            entry["principal_type"] == "user" and entry["principal"] == principal.user_name
        ) or (entry["principal_type"] == "group" and entry["principal"] in principal.groups)
        if mine and level_rank(entry["level"]) > level_rank(best):
            best = entry["level"]
    return best


def require(conn: Connection, principal: Principal, job_id: int, level: str) -> Job:
    """The job, if `principal` holds at least `level` on it. Raises: NotFound, PermissionDenied."""
    return require_level(conn, principal, job_store.get_job(conn, job_id), level)


def require_level(conn: Connection, principal: Principal, job: Job, level: str) -> Job:
    """`require` of a job already read. Raises: PermissionDenied."""
    if level_rank(effective_level(conn, principal, job.job_id)) < level_rank(level):
        raise PermissionDenied(
            f"User {principal.user_name} does not have {level} permission on job {job.job_id}."
        )
    return job


def parse_acl(entries: Any, path: str = "access_control_list") -> list[dict[str, str]]:
    """Validate an access_control_list into (principal_type, principal, level) rows."""
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise SpecError([SpecIssue(path, "must be a list")])
    rows, issues = [], []
    for i, entry in enumerate(entries):
        where = f"{path}[{i}]"
        if not isinstance(entry, dict):
            issues.append(SpecIssue(where, "must be an object"))
            continue
        named = [k for k in _PRINCIPAL_KEYS if entry.get(k)]
        level = entry.get("permission_level")
        if len(named) != 1:
            issues.append(
                SpecIssue(
                    where, "give exactly one of user_name, group_name, service_principal_name"
                )
            )
        elif level not in LEVELS:
            issues.append(
                SpecIssue(f"{where}.permission_level", f"must be one of {', '.join(LEVELS)}")
            )
        else:
            rows.append(
                {
                    "principal_type": _PRINCIPAL_KEYS[named[0]],
                    "principal": str(entry[named[0]]),
                    "level": level,
                }
            )
    if issues:
        raise SpecError(issues)
    return rows


def _settings_dict(settings: JobSettings) -> dict[str, Any]:
    return json.loads(settings_to_json(settings))


def runs_continuously(settings: dict[str, Any]) -> bool:
    """Whether stored settings make an unpaused continuous job."""
    cont = settings.get("continuous")
    return isinstance(cont, dict) and cont.get("pause_status") != "PAUSED"


def check_continuous_quota(
    conn: Connection,
    principal: Principal,
    owner: str,
    settings: dict[str, Any],
    limit: int | None,
    job_id: int | None = None,
) -> None:
    """Refuse a non-admin's continuous job past `limit` per owner (issue 11: a job that ends
    at once restarts every few seconds forever). Raises: SpecError."""
    if limit is None or principal.admin or not runs_continuously(settings):
        return
    owned = [
        j
        for j in job_store.jobs_owned_by(conn, owner)
        if j.job_id != job_id and j.source is None and runs_continuously(j.settings)
    ]
    if len(owned) >= limit:
        raise SpecError(
            [
                SpecIssue(
                    "continuous",
                    f"{owner} already owns {len(owned)} unpaused continuous jobs, the most a "
                    f"non-admin may own (HEADRACE_MAX_CONTINUOUS_JOBS_PER_USER={limit}); pause "
                    "or delete one, or ask an admin",
                )
            ]
        )


def run_identity(settings: Any, default: str | None) -> str | None:
    """Who a job's runs execute as: its `run_as` (user or service principal), else `default`."""
    run_as = settings.get("run_as") if isinstance(settings, dict) else None
    if isinstance(run_as, dict):
        return run_as.get("user_name") or run_as.get("service_principal_name") or default
    return default


def _check_run_as(
    conn: Connection, principal: Principal, job_id: int | None, old: Any, new: Any
) -> None:
    """As Databricks: only an admin makes a job run as someone else, and changing a job's
    run_as needs IS_OWNER (admins have it). Raises: PermissionDenied."""
    before, after = run_identity(old, None), run_identity(new, None)
    if after == before or principal.admin:
        return
    if after is not None and after != principal.user_name:
        raise PermissionDenied(
            f"run_as {after}: only an admin may make a job run as another identity than "
            f"its author ({principal.user_name})"
        )
    if job_id is not None:
        require(conn, principal, job_id, "IS_OWNER")


def create_job(
    store: Store,
    principal: Principal,
    body: dict[str, Any],
    *,
    source: str | None = None,
    max_continuous: int | None = None,
) -> int:
    """Store a new job (version 1) owned by its creator. Raises: SpecError."""
    body = dict(body)
    acl = parse_acl(body.pop("access_control_list", None))
    settings = parse_job_settings(body)
    data = _settings_dict(settings)
    now = now_ms()
    with store.begin() as conn:
        _check_run_as(conn, principal, None, {}, data)
        if source is None:
            check_continuous_quota(conn, principal, principal.user_name, data, max_continuous)
        job_id = job_store.create_job(
            conn, data, now_ms=now, source=source, creator=principal.user_name
        )
        job_store.add_version(conn, job_id, data, by=principal.user_name, now_ms=now)
        owner = {"principal_type": "user", "principal": principal.user_name, "level": "IS_OWNER"}
        entries = {("user", principal.user_name): owner}
        for e in acl:  # the creator stays owner; a principal named twice keeps its highest level
            key = (e["principal_type"], e["principal"])
            if (e["level"] != "IS_OWNER" and key not in entries) or (
                key in entries
                and key != ("user", principal.user_name)
                and level_rank(e["level"]) > level_rank(entries[key]["level"])
            ):
                entries[key] = e
        job_store.set_permissions(conn, job_id, list(entries.values()))
    return job_id


def get_job(store: Store, principal: Principal, job_id: int) -> Job:
    """A job the principal may see. Raises: NotFound, PermissionDenied."""
    with store.read() as conn:
        return require(conn, principal, job_id, "CAN_VIEW")


def list_jobs(
    store: Store,
    principal: Principal,
    *,
    name: str | None,
    after_id: int,
    limit: int,
) -> tuple[list[Job], bool]:
    """Jobs the principal may see, after `after_id`; and whether more follow."""
    with store.read() as conn:
        visible = (
            None
            if principal.admin
            else job_store.jobs_visible_to(conn, principal.user_name, principal.groups)
        )
        found: list[Job] = []
        cursor = after_id
        while len(found) <= limit:
            batch = job_store.list_jobs(conn, name=name, after_id=cursor, limit=limit + 1)
            if not batch:
                break
            found.extend(j for j in batch if visible is None or j.job_id in visible)
            cursor = batch[-1].job_id
    return found[:limit], len(found) > limit


def _replace(
    store: Store,
    principal: Principal,
    job_id: int,
    build: Any,
    max_continuous: int | None,
    acl: Any = None,
) -> None:
    """The new version and, when `acl` is given, the job's new grants: one transaction."""
    with store.begin() as conn:
        job = require(conn, principal, job_id, "CAN_MANAGE")
        settings = parse_job_settings(build(job.settings))
        data = _settings_dict(settings)
        _check_run_as(conn, principal, job_id, job.settings, data)
        if job.source is None:
            owner = _owner_of(conn, job_id) or principal.user_name
            check_continuous_quota(conn, principal, owner, data, max_continuous, job_id)
        job_store.replace_settings(conn, job_id, data)
        job_store.add_version(conn, job_id, data, by=principal.user_name, now_ms=now_ms())
        if acl is not None:
            from headrace.engine.permissions import plan_acl

            rows = plan_acl(
                job_store.permissions_of(conn, job_id),
                parse_acl(acl),
                replace=True,
                may_change_owner=effective_level(conn, principal, job_id) == "IS_OWNER",
                job_id=job_id,
            )
            job_store.set_permissions(conn, job_id, rows)


def _owner_of(conn: Connection, job_id: int) -> str | None:
    for entry in job_store.permissions_of(conn, job_id):
        if entry["level"] == "IS_OWNER" and entry["principal_type"] == "user":
            return entry["principal"]
    return None


def reset_job(
    store: Store,
    principal: Principal,
    job_id: int,
    new_settings: Any,
    *,
    max_continuous: int | None = None,
    access_control_list: Any = None,
) -> None:
    """Replace every setting of a job (omitted ones revert to defaults); with
    `access_control_list`, replace its grants in the same transaction (the UI's editor)."""
    if not isinstance(new_settings, dict):
        raise SpecError([SpecIssue("new_settings", "required: the job's full settings")])
    _replace(
        store, principal, job_id, lambda _old: new_settings, max_continuous, access_control_list
    )


def update_job(
    store: Store,
    principal: Principal,
    job_id: int,
    new_settings: Any,
    fields_to_remove: Any,
    *,
    max_continuous: int | None = None,
) -> None:
    """Databricks' partial update: top-level fields replace; tasks merge by task_key."""
    if new_settings is not None and not isinstance(new_settings, dict):
        raise SpecError([SpecIssue("new_settings", "must be an object")])
    if fields_to_remove is not None and not (
        isinstance(fields_to_remove, list) and all(isinstance(f, str) for f in fields_to_remove)
    ):
        raise SpecError([SpecIssue("fields_to_remove", "must be a list of field names")])
    _replace(
        store,
        principal,
        job_id,
        lambda old: merge_settings(old, new_settings or {}, fields_to_remove or []),
        max_continuous,
    )


def merge_settings(old: dict[str, Any], new: dict[str, Any], remove: list[str]) -> dict[str, Any]:
    """Apply jobs/update semantics (reference §6.14) to a settings dict."""
    merged = dict(old)
    for key, value in new.items():
        if key in ("tasks", "job_clusters") and isinstance(value, list):
            id_key = "task_key" if key == "tasks" else "job_cluster_key"
            for i, item in enumerate(value):
                if not isinstance(item, dict) or not isinstance(item.get(id_key), str):
                    raise SpecError(
                        [SpecIssue(f"new_settings.{key}[{i}].{id_key}", "required: a string")]
                    )
            by_key = {item.get(id_key): item for item in merged.get(key, [])}
            for item in value:
                by_key[item[id_key]] = item
            merged[key] = list(by_key.values())
        else:
            merged[key] = value
    for field in remove:
        head, _, item = field.partition("/")
        if item and head in ("tasks", "job_clusters"):
            id_key = "task_key" if head == "tasks" else "job_cluster_key"
            merged[head] = [x for x in merged.get(head, []) if x.get(id_key) != item]
        else:
            merged.pop(field, None)
    return merged


def delete_job(store: Store, principal: Principal, job_id: int) -> None:
    """Delete a job (its runs stay in history)."""
    with store.begin() as conn:
        require(conn, principal, job_id, "CAN_MANAGE")
        job_store.delete_job(conn, job_id)
