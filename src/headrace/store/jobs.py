"""Stored job definitions."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from headrace.errors import NotFound
from headrace.store.records import Job
from headrace.store.sql import Tx as Connection


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
    conn.execute(
        "INSERT INTO jobs (job_id, name, settings, source, creator_user_name, created_time)"
        " VALUES (:job_id, :name, :settings, :source, :creator, :now)",
        {
            "job_id": job_id,
            "name": settings.get("name", "Untitled"),
            "settings": json.dumps(settings),
            "source": source,
            "creator": creator,
            "now": now_ms,
        },
    )
    return job_id


def allocate_job_id(conn: Connection) -> int:
    """The next job id; never one a deleted job had."""
    stmt = "UPDATE counters SET value = value + 1 WHERE name = 'job_id' RETURNING value"
    return conn.execute(stmt).scalar_one()


def get_job(conn: Connection, job_id: int) -> Job:
    """The job `job_id`. Raises: NotFound."""
    row = conn.execute("SELECT * FROM jobs WHERE job_id = :id", {"id": job_id}).first()
    if row is None:
        raise job_missing(job_id)
    return Job.from_row(row)


def job_missing(job_id: int) -> NotFound:
    """What reading a job that does not exist raises."""
    return NotFound(f"Job {job_id} does not exist.")


def lock_job(conn: Connection, job_id: int) -> None:
    """Hold the job's row for this transaction (PostgreSQL; SQLite's write lock already does)."""
    if conn.dialect.name != "sqlite":
        conn.execute("SELECT job_id FROM jobs WHERE job_id = :id FOR UPDATE", {"id": job_id})


def find_local_job(conn: Connection, name: str, source: str) -> Job | None:
    """The job that `headrace run` stored for the spec file `source` under `name`."""
    row = conn.execute(
        "SELECT * FROM jobs WHERE name = :name AND source = :source ORDER BY job_id",
        {"name": name, "source": source},
    ).first()
    return Job.from_row(row) if row is not None else None


def replace_settings(conn: Connection, job_id: int, settings: dict[str, Any]) -> None:
    """Replace a job's settings."""
    conn.execute(
        "UPDATE jobs SET settings = :settings, name = :name WHERE job_id = :id",
        {"settings": json.dumps(settings), "name": settings.get("name", "Untitled"), "id": job_id},
    )


def job_names(conn: Connection, job_ids: set[int]) -> dict[int, str]:
    """Names of the given jobs."""
    if not job_ids:
        return {}
    rows = conn.execute(
        "SELECT job_id, name FROM jobs WHERE job_id IN :ids", {"ids": sorted(job_ids)}
    )
    return {job_id: name for job_id, name in rows}


def delete_job(conn: Connection, job_id: int) -> None:
    """Remove a job, its versions, permissions and trigger state (its runs stay, unlinked)."""
    for table in ("job_permissions", "job_versions", "trigger_state", "jobs"):
        conn.execute(f"DELETE FROM {table} WHERE job_id = :id", {"id": job_id})


def list_jobs(
    conn: Connection, *, name: str | None = None, after_id: int = 0, limit: int = 20
) -> list[Job]:
    """Jobs by increasing id after `after_id`; `name` matches case-insensitively."""
    params: dict[str, Any] = {"after": after_id, "limit": limit}
    where = "job_id > :after"
    if name is not None:
        where += " AND lower(name) = :name"
        params["name"] = name.lower()
    stmt = f"SELECT * FROM jobs WHERE {where} ORDER BY job_id LIMIT :limit"
    return [Job.from_row(r) for r in conn.execute(stmt, params)]


def all_jobs(conn: Connection) -> list[Job]:
    """Every job (the trigger loop reads their schedules)."""
    return [Job.from_row(r) for r in conn.execute("SELECT * FROM jobs ORDER BY job_id")]


# --- versions ----------------------------------------------------------------------------------


def add_version(
    conn: Connection, job_id: int, settings: dict[str, Any], *, by: str | None, now_ms: int
) -> int:
    """Record the job's settings as its next version; returns the version number."""
    version = (latest_version(conn, job_id) or 0) + 1
    conn.execute(
        "INSERT INTO job_versions (job_id, version, settings, created_by, created_time)"
        " VALUES (:job_id, :version, :settings, :by, :now)",
        {
            "job_id": job_id,
            "version": version,
            "settings": json.dumps(settings),
            "by": by,
            "now": now_ms,
        },
    )
    return version


def latest_version(conn: Connection, job_id: int) -> int | None:
    """The newest version number of a job."""
    stmt = "SELECT max(version) FROM job_versions WHERE job_id = :id"
    return conn.execute(stmt, {"id": job_id}).scalar()


def versions(conn: Connection, job_id: int) -> list[dict[str, Any]]:
    """Every version of a job, oldest first, settings parsed."""
    stmt = "SELECT * FROM job_versions WHERE job_id = :id ORDER BY version"
    return [
        {**r._mapping, "settings": json.loads(r.settings)}
        for r in conn.execute(stmt, {"id": job_id})
    ]


# --- permissions ---------------------------------------------------------------------------


def _acl_entry(r: Any) -> dict[str, str]:
    return {"principal_type": r.principal_type, "principal": r.principal, "level": r.level}


def permissions_of(conn: Connection, job_id: int) -> list[dict[str, str]]:
    """The access control list of a job: principal_type, principal, level."""
    stmt = (
        "SELECT principal_type, principal, level FROM job_permissions WHERE job_id = :id"
        " ORDER BY principal_type, principal"
    )
    return [_acl_entry(r) for r in conn.execute(stmt, {"id": job_id})]


def permissions_of_jobs(
    conn: Connection, job_ids: Sequence[int]
) -> dict[int, list[dict[str, str]]]:
    """The access control lists of many jobs, one query per 900 jobs."""
    found: dict[int, list[dict[str, str]]] = {j: [] for j in job_ids}
    ids = list(job_ids)
    stmt = (
        "SELECT job_id, principal_type, principal, level FROM job_permissions WHERE job_id IN :ids"
    )
    for i in range(0, len(ids), 900):
        for r in conn.execute(stmt, {"ids": ids[i : i + 900]}):
            found[r.job_id].append(_acl_entry(r))
    return found


def set_permissions(conn: Connection, job_id: int, acl: list[dict[str, str]]) -> None:
    """Replace a job's access control list."""
    conn.execute("DELETE FROM job_permissions WHERE job_id = :id", {"id": job_id})
    if acl:
        rows = [
            {
                "job_id": job_id,
                "principal_type": e["principal_type"],
                "principal": e["principal"],
                "level": e["level"],
            }
            for e in acl
        ]
        conn.execute(
            "INSERT INTO job_permissions (job_id, principal_type, principal, level)"
            " VALUES (:job_id, :principal_type, :principal, :level)",
            rows,
        )


def jobs_visible_to(conn: Connection, user: str, groups: list[str]) -> set[int]:
    """Ids of the jobs a user (or one of their groups) holds any permission on."""
    params: dict[str, Any] = {"user": user}
    conds = ["(principal_type = 'user' AND principal = :user)"]
    if groups:
        conds.append("(principal_type = 'group' AND principal IN :groups)")
        params["groups"] = list(groups)
    stmt = f"SELECT job_id FROM job_permissions WHERE {' OR '.join(conds)}"
    return {r[0] for r in conn.execute(stmt, params)}


def jobs_owned_by(conn: Connection, user: str) -> list[Job]:
    """The jobs a user owns (IS_OWNER), by id."""
    stmt = (
        "SELECT * FROM jobs WHERE job_id IN (SELECT job_id FROM job_permissions"
        " WHERE principal_type = 'user' AND principal = :user AND level = 'IS_OWNER')"
        " ORDER BY job_id"
    )
    return [Job.from_row(r) for r in conn.execute(stmt, {"user": user})]


# --- trigger state -------------------------------------------------------------------------


def get_trigger_state(conn: Connection, job_id: int) -> dict[str, Any]:
    """What the trigger loop remembers of a job (last fire, files seen...)."""
    stmt = "SELECT state FROM trigger_state WHERE job_id = :id"
    raw = conn.execute(stmt, {"id": job_id}).scalar()
    return json.loads(raw) if raw else {}


def put_trigger_state(conn: Connection, job_id: int, state: dict[str, Any], now_ms: int) -> None:
    """Store a job's trigger state (insert or replace)."""
    params = {"id": job_id, "state": json.dumps(state), "now": now_ms}
    updated = conn.execute(
        "UPDATE trigger_state SET state = :state, updated_time = :now WHERE job_id = :id", params
    ).rowcount
    if not updated:
        conn.execute(
            "INSERT INTO trigger_state (job_id, state, updated_time) VALUES (:id, :state, :now)",
            params,
        )
