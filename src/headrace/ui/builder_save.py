"""Saving what the job builder's form or YAML tab says, through the engine as the API does.

A document is job settings plus, optionally, `access_control_list` (the grants the editor
shows: every entry but the owner's). Creating passes both to `engine.jobs.create_job` (one
transaction, as jobs/create). Editing checks both first, the settings with the loader the API
uses and the grants with `engine.permissions.plan_acl`, and writes only when both hold: the
new version and, if they changed, the grants, in one transaction (`reset_job` with
`access_control_list`). A document without `access_control_list` leaves the grants as they are.
"""

from __future__ import annotations

from typing import Any

from headrace.errors import PermissionDenied, SpecError, SpecIssue

ACL = "access_control_list"
PRINCIPAL_KEYS = {
    "user": "user_name",
    "group": "group_name",
    "service_principal": "service_principal_name",
}


def grants_of(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """A job's stored ACL rows, minus the owner, as access_control_list entries."""
    return [
        {PRINCIPAL_KEYS[r["principal_type"]]: r["principal"], "permission_level": r["level"]}
        for r in rows
        if r["level"] != "IS_OWNER"
    ]


def current_grants(ctx: Any, who: Any, job_id: int) -> list[dict[str, str]]:
    from headrace.engine.permissions import job_acl

    return grants_of(job_acl(ctx.store, who, job_id))


def create(ctx: Any, who: Any, doc: dict[str, Any]) -> int:
    """Store a new job (version 1). Raises: SpecError."""
    from headrace.engine import jobs as job_service

    cap = ctx.settings.max_continuous_jobs_per_user
    return job_service.create_job(ctx.store, who, doc, max_continuous=cap)


def save(ctx: Any, who: Any, job_id: int, doc: dict[str, Any]) -> None:
    """Store the document as the job's next version (and its grants). Raises: SpecError
    with every issue of both parts, nothing written; NotFound, PermissionDenied."""
    from headrace.engine import jobs as job_service
    from headrace.engine.permissions import plan_acl
    from headrace.spec.loader import parse_job_settings
    from headrace.store import jobs as job_store

    settings = {k: v for k, v in doc.items() if k != ACL}
    issues: list[SpecIssue] = []
    try:
        parse_job_settings(settings)
    except SpecError as exc:
        issues += exc.issues or [SpecIssue("", str(exc))]
    changed = False
    if ACL in doc:
        try:
            requested = job_service.parse_acl(doc[ACL])
            with ctx.store.read() as conn:
                job_service.require(conn, who, job_id, "CAN_MANAGE")
                current = job_store.permissions_of(conn, job_id)
                owner = job_service.effective_level(conn, who, job_id) == "IS_OWNER"
            rows = plan_acl(current, requested, replace=True, may_change_owner=owner, job_id=job_id)
            changed = _key(rows) != _key(current)
        except SpecError as exc:
            issues += exc.issues or [SpecIssue(ACL, str(exc))]
        except PermissionDenied as exc:
            issues.append(SpecIssue(ACL, str(exc)))
    if issues:
        raise SpecError(issues)
    cap = ctx.settings.max_continuous_jobs_per_user
    job_service.reset_job(
        ctx.store,
        who,
        job_id,
        settings,
        max_continuous=cap,
        access_control_list=doc[ACL] if changed else None,
    )


def _key(rows: list[dict[str, str]]) -> list[tuple[str, str, str]]:
    return sorted((r["principal_type"], r["principal"], r["level"]) for r in rows)
