"""Spark clusters: named ones (Clusters API, `headrace clusters`) and the job clusters of runs.

A row mirrors what the cluster's keeper process knows (its pid, state, driver log), so the
Clusters API and run pages can show it and recovery can stop a cluster whose run is over.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from headrace.errors import NotFound
from headrace.store.sql import Tx as Connection
from headrace.store.sql import set_clause

# The table is defined in schema.py (SQL text here: run pages read it on the hot path).
LIVE_STATES = ("PENDING", "RUNNING", "RESTARTING", "RESIZING", "TERMINATING")


@dataclass(frozen=True)
class SparkCluster:
    """One row of spark_clusters."""

    cluster_id: str
    cluster_name: str
    kind: str
    run_id: int | None
    cluster_key: str | None
    spec: dict[str, Any]
    state: str
    state_message: str
    host: str | None
    pid: int | None
    folder: str | None
    remote: str | None
    ui_url: str | None
    start_time: int | None
    terminated_time: int | None
    created_time: int
    creator_user_name: str | None

    @classmethod
    def from_row(cls, row: Any) -> SparkCluster:
        values = dict(row._mapping)
        values["spec"] = json.loads(values["spec"] or "{}")
        return cls(**values)


def _now() -> int:
    return int(time.time() * 1000)


def insert_cluster(
    conn: Connection,
    *,
    cluster_id: str,
    cluster_name: str,
    kind: str,
    spec: dict[str, Any],
    run_id: int | None = None,
    cluster_key: str | None = None,
    state: str = "TERMINATED",
    creator_user_name: str | None = None,
) -> None:
    """Record a new cluster."""
    conn.execute(
        "INSERT INTO spark_clusters (cluster_id, cluster_name, kind, run_id, cluster_key, spec,"
        " state, state_message, created_time, creator_user_name) VALUES (:cluster_id,"
        " :cluster_name, :kind, :run_id, :cluster_key, :spec, :state, '', :now, :creator)",
        {
            "cluster_id": cluster_id,
            "cluster_name": cluster_name,
            "kind": kind,
            "run_id": run_id,
            "cluster_key": cluster_key,
            "spec": json.dumps(spec),
            "state": state,
            "now": _now(),
            "creator": creator_user_name,
        },
    )


_BY_ID = "SELECT * FROM spark_clusters WHERE cluster_id = :id"


def get_cluster(conn: Connection, cluster_id: str) -> SparkCluster:
    """A cluster by id.

    Raises:
        NotFound: no such cluster.
    """
    row = conn.execute(_BY_ID, {"id": cluster_id}).first()
    if row is None:
        raise NotFound(f"Cluster {cluster_id} does not exist")
    return SparkCluster.from_row(row)


def find_cluster(conn: Connection, cluster_id: str) -> SparkCluster | None:
    """A cluster by id, or None."""
    row = conn.execute(_BY_ID, {"id": cluster_id}).first()
    return SparkCluster.from_row(row) if row is not None else None


def named_clusters(conn: Connection) -> list[SparkCluster]:
    """Every named cluster, by name."""
    rows = conn.execute("SELECT * FROM spark_clusters WHERE kind = 'NAMED' ORDER BY cluster_name")
    return [SparkCluster.from_row(r) for r in rows]


def clusters_of_run(conn: Connection, run_id: int) -> list[SparkCluster]:
    """The job clusters a run started, oldest first."""
    stmt = "SELECT * FROM spark_clusters WHERE run_id = :run_id ORDER BY created_time"
    return [SparkCluster.from_row(r) for r in conn.execute(stmt, {"run_id": run_id})]


def live_clusters(conn: Connection) -> list[SparkCluster]:
    """Clusters whose last known state is not over (recovery checks their keepers)."""
    stmt = "SELECT * FROM spark_clusters WHERE state IN :states"
    return [SparkCluster.from_row(r) for r in conn.execute(stmt, {"states": list(LIVE_STATES)})]


def update_cluster(store: Any, cluster_id: str, **values: Any) -> None:
    """Set columns of a cluster (state, pid, folder, times, spec, name...)."""
    if "spec" in values:
        values["spec"] = json.dumps(values["spec"])
    stmt = f"UPDATE spark_clusters SET {set_clause(values)} WHERE cluster_id = :b_id"
    with store.begin() as conn:
        conn.execute(stmt, {**values, "b_id": cluster_id})


def delete_cluster(conn: Connection, cluster_id: str) -> None:
    """Forget a cluster (permanent-delete)."""
    conn.execute("DELETE FROM spark_clusters WHERE cluster_id = :id", {"id": cluster_id})


def run_ended(store: Any, run_id: int) -> bool:
    """True when the run is over (or gone): its job clusters must stop."""
    with store.read() as conn:
        stmt = "SELECT life_cycle_state FROM runs WHERE run_id = :id"
        state = conn.execute(stmt, {"id": run_id}).scalar()
    return state is None or state in ("TERMINATED", "SKIPPED", "INTERNAL_ERROR")
