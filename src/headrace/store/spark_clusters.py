"""Spark clusters: named ones (Clusters API, `headrace clusters`) and the job clusters of runs.

A row mirrors what the cluster's keeper process knows (its pid, state, driver log), so the
Clusters API and run pages can show it and recovery can stop a cluster whose run is over.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Index,
    Integer,
    String,
    Table,
    Text,
    delete,
    insert,
    select,
    update,
)

from headrace.errors import NotFound
from headrace.store.schema import metadata

spark_clusters = Table(
    "spark_clusters",
    metadata,
    Column("cluster_id", String(64), primary_key=True),
    Column("cluster_name", Text, nullable=False),
    Column("kind", String(8), nullable=False),  # NAMED (existing_cluster_id) or JOB (a run's)
    Column("run_id", BigInteger),  # a job cluster's run
    Column("cluster_key", Text),  # a job cluster's job_cluster_key (or task key: new_cluster)
    Column("spec", Text, nullable=False),  # JSON: the Clusters API new_cluster
    Column("state", String(16), nullable=False),  # PENDING RUNNING TERMINATING TERMINATED ERROR
    Column("state_message", Text, nullable=False, default=""),
    Column("host", Text),
    Column("pid", Integer),  # the keeper process (its JVM dies with it)
    Column("folder", Text),  # the server folder: state.json, driver.log
    Column("remote", Text),  # sc://host:port while running
    Column("ui_url", Text),  # the Spark UI while running
    Column("start_time", BigInteger),
    Column("terminated_time", BigInteger),
    Column("created_time", BigInteger, nullable=False),
    Column("creator_user_name", Text),
)
Index("ix_spark_clusters_run", spark_clusters.c.run_id)

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
        insert(spark_clusters).values(
            cluster_id=cluster_id,
            cluster_name=cluster_name,
            kind=kind,
            run_id=run_id,
            cluster_key=cluster_key,
            spec=json.dumps(spec),
            state=state,
            state_message="",
            created_time=_now(),
            creator_user_name=creator_user_name,
        )
    )


def get_cluster(conn: Connection, cluster_id: str) -> SparkCluster:
    """A cluster by id.

    Raises:
        NotFound: no such cluster.
    """
    row = conn.execute(
        select(spark_clusters).where(spark_clusters.c.cluster_id == cluster_id)
    ).first()
    if row is None:
        raise NotFound(f"Cluster {cluster_id} does not exist")
    return SparkCluster.from_row(row)


def find_cluster(conn: Connection, cluster_id: str) -> SparkCluster | None:
    """A cluster by id, or None."""
    row = conn.execute(
        select(spark_clusters).where(spark_clusters.c.cluster_id == cluster_id)
    ).first()
    return SparkCluster.from_row(row) if row is not None else None


def named_clusters(conn: Connection) -> list[SparkCluster]:
    """Every named cluster, by name."""
    rows = conn.execute(
        select(spark_clusters)
        .where(spark_clusters.c.kind == "NAMED")
        .order_by(spark_clusters.c.cluster_name)
    )
    return [SparkCluster.from_row(r) for r in rows]


def clusters_of_run(conn: Connection, run_id: int) -> list[SparkCluster]:
    """The job clusters a run started, oldest first."""
    rows = conn.execute(
        select(spark_clusters)
        .where(spark_clusters.c.run_id == run_id)
        .order_by(spark_clusters.c.created_time)
    )
    return [SparkCluster.from_row(r) for r in rows]


def live_clusters(conn: Connection) -> list[SparkCluster]:
    """Clusters whose last known state is not over (recovery checks their keepers)."""
    rows = conn.execute(select(spark_clusters).where(spark_clusters.c.state.in_(LIVE_STATES)))
    return [SparkCluster.from_row(r) for r in rows]


def update_cluster(store: Any, cluster_id: str, **values: Any) -> None:
    """Set columns of a cluster (state, pid, folder, times, spec, name...)."""
    if "spec" in values:
        values["spec"] = json.dumps(values["spec"])
    with store.begin() as conn:
        conn.execute(
            update(spark_clusters).where(spark_clusters.c.cluster_id == cluster_id).values(**values)
        )


def delete_cluster(conn: Connection, cluster_id: str) -> None:
    """Forget a cluster (permanent-delete)."""
    conn.execute(delete(spark_clusters).where(spark_clusters.c.cluster_id == cluster_id))


def run_ended(store: Any, run_id: int) -> bool:
    """True when the run is over (or gone): its job clusters must stop."""
    from headrace.store.schema import runs

    with store.read() as conn:
        state = conn.execute(
            select(runs.c.life_cycle_state).where(runs.c.run_id == run_id)
        ).scalar()
    return state is None or state in ("TERMINATED", "SKIPPED", "INTERNAL_ERROR")
