"""A job's access control list: read it, replace it (PUT) or merge into it (PATCH).

Rules (Databricks' job ACLs, reference §4.8): reading needs CAN_VIEW, changing needs
CAN_MANAGE; a job has exactly one owner (IS_OWNER), a user or a service principal, never a
group; only the owner or an admin may give ownership away, and the previous owner then keeps
CAN_MANAGE unless the request says otherwise (Databricks' documented transfer rule). A
replace keeps the owner when the request names none. Admins hold CAN_MANAGE on every job,
inherited from `/jobs/`; that entry is shown, never stored.
"""

from __future__ import annotations

from typing import Any

from headrace.engine.jobs import LEVELS, Principal, effective_level, level_rank, parse_acl, require
from headrace.errors import PermissionDenied, SpecError, SpecIssue
from headrace.store import jobs as job_store
from headrace.store.db import Store

ADMINS_GROUP = "admins"
_API_KEYS = {
    "user": "user_name",
    "group": "group_name",
    "service_principal": "service_principal_name",
}
LEVEL_DESCRIPTIONS = {
    "CAN_VIEW": "Can view the job, its settings, its runs and their results.",
    "CAN_MANAGE_RUN": "Can view the job, run it now and cancel its runs.",
    "CAN_MANAGE": "Can edit, run and delete the job and change its permissions.",
    "IS_OWNER": "Owns the job (exactly one user or service principal): can do everything.",
}

Key = tuple[str, str]  # (principal_type, principal)


def job_acl(store: Store, who: Principal, job_id: int) -> list[dict[str, str]]:
    """A job's stored ACL rows. Raises: NotFound, PermissionDenied (needs CAN_VIEW)."""
    with store.read() as conn:
        require(conn, who, job_id, "CAN_VIEW")
        return job_store.permissions_of(conn, job_id)


def change_job_acl(
    store: Store, who: Principal, job_id: int, entries: Any, *, replace: bool
) -> list[dict[str, str]]:
    """Replace or merge a job's ACL in one transaction; returns the new rows.

    Raises:
        NotFound: no such job.
        PermissionDenied: not CAN_MANAGE, or changing the owner without being owner or admin.
        SpecError: a malformed list, two owners, a group as owner...
    """
    requested = parse_acl(entries)
    with store.begin() as conn:
        require(conn, who, job_id, "CAN_MANAGE")
        may_change_owner = effective_level(conn, who, job_id) == "IS_OWNER"
        rows = plan_acl(
            job_store.permissions_of(conn, job_id),
            requested,
            replace=replace,
            may_change_owner=may_change_owner,
            job_id=job_id,
        )
        job_store.set_permissions(conn, job_id, rows)
    return rows


def plan_acl(
    current: list[dict[str, str]],
    requested: list[dict[str, str]],
    *,
    replace: bool,
    may_change_owner: bool,
    job_id: int,
) -> list[dict[str, str]]:
    """The ACL after a PUT (`replace`) or PATCH of `requested` onto `current` (pure)."""
    wanted: dict[Key, str] = {}
    for row in requested:  # a principal named twice gets the higher level
        key = (row["principal_type"], row["principal"])
        if level_rank(row["level"]) > level_rank(wanted.get(key)):
            wanted[key] = row["level"]
    _check_request(wanted)
    old_owner = next(
        ((r["principal_type"], r["principal"]) for r in current if r["level"] == "IS_OWNER"), None
    )
    named = [k for k, level in wanted.items() if level == "IS_OWNER"]
    new_owner = named[0] if named else old_owner
    if new_owner != old_owner and not may_change_owner:
        owner = f" ({old_owner[1]})" if old_owner else ""
        raise PermissionDenied(
            f"Only the owner of job {job_id}{owner} or an admin may change its owner."
        )
    if new_owner == old_owner and old_owner in wanted and wanted[old_owner] != "IS_OWNER":
        raise SpecError(
            [
                SpecIssue(
                    "access_control_list",
                    f"{old_owner[1]} owns job {job_id} and stays IS_OWNER; to change the owner, "
                    "give IS_OWNER to another user",
                )
            ]
        )
    merged: dict[Key, str] = {}
    if not replace:
        merged = {
            (r["principal_type"], r["principal"]): r["level"]
            for r in current
            if r["level"] != "IS_OWNER"
        }
    merged.update({k: level for k, level in wanted.items() if level != "IS_OWNER"})
    if old_owner is not None and new_owner != old_owner:
        merged.setdefault(old_owner, "CAN_MANAGE")
    rows = []
    if new_owner is not None:
        merged.pop(new_owner, None)
        rows.append(
            {"principal_type": new_owner[0], "principal": new_owner[1], "level": "IS_OWNER"}
        )
    for (kind, name), level in sorted(merged.items()):
        rows.append({"principal_type": kind, "principal": name, "level": level})
    return rows


def _check_request(wanted: dict[Key, str]) -> None:
    issues = []
    owners = [k for k, level in wanted.items() if level == "IS_OWNER"]
    if len(owners) > 1:
        names = ", ".join(name for _, name in owners)
        issues.append(
            SpecIssue("access_control_list", f"a job has exactly one IS_OWNER, got {names}")
        )
    if any(kind == "group" for kind, _ in owners):
        issues.append(
            SpecIssue(
                "access_control_list",
                "IS_OWNER must be a user or a service principal, not a group",
            )
        )
    if ("group", ADMINS_GROUP) in wanted:
        issues.append(
            SpecIssue(
                "access_control_list",
                f"the '{ADMINS_GROUP}' group always has CAN_MANAGE on every job; leave it out",
            )
        )
    if issues:
        raise SpecError(issues)


def job_permissions_to_api(job_id: int, rows: list[dict[str, str]]) -> dict[str, Any]:
    """The Permissions API `JobPermissions` object of a job's ACL rows."""
    acl = []
    for row in rows:
        acl.append(
            {
                _API_KEYS[row["principal_type"]]: row["principal"],
                "display_name": row["principal"],
                "all_permissions": [{"permission_level": row["level"], "inherited": False}],
            }
        )
    acl.append(
        {
            "group_name": ADMINS_GROUP,
            "display_name": ADMINS_GROUP,
            "all_permissions": [
                {
                    "permission_level": "CAN_MANAGE",
                    "inherited": True,
                    "inherited_from_object": ["/jobs/"],
                }
            ],
        }
    )
    return {"object_id": f"/jobs/{job_id}", "object_type": "job", "access_control_list": acl}


def permission_levels() -> list[dict[str, str]]:
    """Every job permission level with what it allows, lowest first."""
    return [{"permission_level": lv, "description": LEVEL_DESCRIPTIONS[lv]} for lv in LEVELS]
