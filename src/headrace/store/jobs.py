"""Stored job definitions."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, func, insert, or_, select, update

from headrace.errors import NotFound
from headrace.store.records import Job
from headrace.store.schema import counters, job_permissions, job_versions, jobs, trigger_state


def create_job(
    conn: Connection,
    settings: dict[str, Any],
    *,
    now_ms: int,
    source: str | None = None,
    creator: str | None = None,
) -> int:
    """Store a new job; returns its id."""
    job_id = allocate_job_id(conn)
    stmt = insert(jobs).values(
        job_id=job_id,
        name=settings.get("name", "Untitled"),
        settings=json.dumps(settings),
        source=source,
        creator_user_name=creator,
        created_time=now_ms,
    )
    conn.execute(stmt)
    return job_id


def allocate_job_id(conn: Connection) -> int:
    """The next job id; never one a deleted job had."""
    stmt = (
        update(counters)
        .where(counters.c.name == "job_id")
        .values(value=counters.c.value + 1)
        .returning(counters.c.value)
    )
    return conn.execute(stmt).scalar_one()


def get_job(conn: Connection, job_id: int) -> Job:
    """The job `job_id`. Raises: NotFound."""
    row = conn.execute(select(jobs).where(jobs.c.job_id == job_id)).first()
    if row is None:
        raise NotFound(f"Job {job_id} does not exist.")
    return Job.from_row(row)


def lock_job(conn: Connection, job_id: int) -> None:
    """Hold the job's row for this transaction (PostgreSQL; SQLite's write lock already does)."""
    if conn.dialect.name != "sqlite":
        conn.execute(select(jobs.c.job_id).where(jobs.c.job_id == job_id).with_for_update())


def find_local_job(conn: Connection, name: str, source: str) -> Job | None:
    """The job that `headrace run` stored for the spec file `source` under `name`."""
    row = conn.execute(
        select(jobs).where(jobs.c.name == name, jobs.c.source == source).order_by(jobs.c.job_id)
    ).first()
    return Job.from_row(row) if row is not None else None


def replace_settings(conn: Connection, job_id: int, settings: dict[str, Any]) -> None:
    """Replace a job's settings."""
    conn.execute(
        update(jobs)
        .where(jobs.c.job_id == job_id)
        .values(settings=json.dumps(settings), name=settings.get("name", "Untitled"))
    )


def job_names(conn: Connection, job_ids: set[int]) -> dict[int, str]:
    """Names of the given jobs."""
    if not job_ids:
        return {}
    rows = conn.execute(select(jobs.c.job_id, jobs.c.name).where(jobs.c.job_id.in_(job_ids)))
    return dict(rows.all())


def delete_job(conn: Connection, job_id: int) -> None:
    """Remove a job, its versions, permissions and trigger state (its runs stay, unlinked)."""
    conn.execute(job_permissions.delete().where(job_permissions.c.job_id == job_id))
    conn.execute(job_versions.delete().where(job_versions.c.job_id == job_id))
    conn.execute(trigger_state.delete().where(trigger_state.c.job_id == job_id))
    conn.execute(jobs.delete().where(jobs.c.job_id == job_id))


def list_jobs(
    conn: Connection, *, name: str | None = None, after_id: int = 0, limit: int = 20
) -> list[Job]:
    """Jobs by increasing id after `after_id`; `name` matches case-insensitively."""
    stmt = select(jobs).where(jobs.c.job_id > after_id).order_by(jobs.c.job_id).limit(limit)
    if name is not None:
        stmt = stmt.where(func.lower(jobs.c.name) == name.lower())
    return [Job.from_row(r) for r in conn.execute(stmt)]


def all_jobs(conn: Connection) -> list[Job]:
    """Every job (the trigger loop reads their schedules)."""
    return [Job.from_row(r) for r in conn.execute(select(jobs).order_by(jobs.c.job_id))]


# --- versions ----------------------------------------------------------------------------------


def add_version(
    conn: Connection, job_id: int, settings: dict[str, Any], *, by: str | None, now_ms: int
) -> int:
    """Record the job's settings as its next version; returns the version number."""
    last = conn.execute(
        select(func.max(job_versions.c.version)).where(job_versions.c.job_id == job_id)
    ).scalar()
    version = (last or 0) + 1
    conn.execute(
        insert(job_versions).values(
            job_id=job_id,
            version=version,
            settings=json.dumps(settings),
            created_by=by,
            created_time=now_ms,
        )
    )
    return version


def latest_version(conn: Connection, job_id: int) -> int | None:
    """The newest version number of a job."""
    return conn.execute(
        select(func.max(job_versions.c.version)).where(job_versions.c.job_id == job_id)
    ).scalar()


def versions(conn: Connection, job_id: int) -> list[dict[str, Any]]:
    """Every version of a job, oldest first, settings parsed."""
    stmt = (
        select(job_versions).where(job_versions.c.job_id == job_id).order_by(job_versions.c.version)
    )
    return [{**r._mapping, "settings": json.loads(r.settings)} for r in conn.execute(stmt)]


# --- permissions ---------------------------------------------------------------------------


def permissions_of(conn: Connection, job_id: int) -> list[dict[str, str]]:
    """The access control list of a job: principal_type, principal, level."""
    stmt = select(job_permissions).where(job_permissions.c.job_id == job_id)
    stmt = stmt.order_by(job_permissions.c.principal_type, job_permissions.c.principal)
    return [
        {"principal_type": r.principal_type, "principal": r.principal, "level": r.level}
        for r in conn.execute(stmt)
    ]


def permissions_of_jobs(
    conn: Connection, job_ids: Sequence[int]
) -> dict[int, list[dict[str, str]]]:
    """The access control lists of many jobs, one query per 900 jobs."""
    found: dict[int, list[dict[str, str]]] = {j: [] for j in job_ids}
    ids = list(job_ids)
    for i in range(0, len(ids), 900):
        stmt = select(job_permissions).where(job_permissions.c.job_id.in_(ids[i : i + 900]))
        for r in conn.execute(stmt):
            found[r.job_id].append(
                {"principal_type": r.principal_type, "principal": r.principal, "level": r.level}
            )
    return found


def set_permissions(conn: Connection, job_id: int, acl: list[dict[str, str]]) -> None:
    """Replace a job's access control list."""
    conn.execute(job_permissions.delete().where(job_permissions.c.job_id == job_id))
    if acl:
        conn.execute(insert(job_permissions), [{"job_id": job_id, **entry} for entry in acl])


def jobs_visible_to(conn: Connection, user: str, groups: list[str]) -> set[int]:
    """Ids of the jobs a user (or one of their groups) holds any permission on."""
    principals = [("user", user), *(("group", g) for g in groups)]
    conds = [
        (job_permissions.c.principal_type == t) & (job_permissions.c.principal == p)
        for t, p in principals
    ]
    stmt = select(job_permissions.c.job_id).where(or_(*conds))
    return {r[0] for r in conn.execute(stmt)}


def jobs_owned_by(conn: Connection, user: str) -> list[Job]:
    """The jobs a user owns (IS_OWNER), by id."""
    owned = select(job_permissions.c.job_id).where(
        job_permissions.c.principal_type == "user",
        job_permissions.c.principal == user,
        job_permissions.c.level == "IS_OWNER",
    )
    return [
        Job.from_row(r)
        for r in conn.execute(select(jobs).where(jobs.c.job_id.in_(owned)).order_by(jobs.c.job_id))
    ]


# --- trigger state -------------------------------------------------------------------------


def get_trigger_state(conn: Connection, job_id: int) -> dict[str, Any]:
    """What the trigger loop remembers of a job (last fire, files seen...)."""
    raw = conn.execute(
        select(trigger_state.c.state).where(trigger_state.c.job_id == job_id)
    ).scalar()
    return json.loads(raw) if raw else {}


def put_trigger_state(conn: Connection, job_id: int, state: dict[str, Any], now_ms: int) -> None:
    """Store a job's trigger state (insert or replace)."""
    text = json.dumps(state)
    updated = conn.execute(
        update(trigger_state)
        .where(trigger_state.c.job_id == job_id)
        .values(state=text, updated_time=now_ms)
    ).rowcount
    if not updated:
        conn.execute(insert(trigger_state).values(job_id=job_id, state=text, updated_time=now_ms))
