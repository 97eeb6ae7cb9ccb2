"""The Spark clusters of a run, for runs get and the run page (issue 12).

Adds to the Run object `clusters` (Headrace's: each cluster's state, start time, Spark UI link
and driver log) and to each task that names a cluster the Jobs API's `cluster_instance`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from headrace.spec.compute import cluster_id_of
from headrace.store import spark_clusters as records
from headrace.store.sql import Tx as Connection


def add_clusters(conn: Connection, run_id: int, out: dict[str, Any]) -> None:
    """Put the run's clusters into `out` (a Run as the API shows it), if it has any."""
    wanted: dict[str, None] = {}
    for task in out.get("tasks", []):
        cluster_id = cluster_id_of(run_id, task)
        if cluster_id is not None:
            task["cluster_instance"] = {"cluster_id": cluster_id}
            wanted[cluster_id] = None
    rows = {r.cluster_id: r for r in records.clusters_of_run(conn, run_id)}
    for cluster_id in wanted:
        if cluster_id not in rows:
            row = records.find_cluster(conn, cluster_id)
            if row is not None:
                rows[cluster_id] = row
    if rows:
        out["clusters"] = [_view(r) for r in rows.values()]


def _view(row: records.SparkCluster) -> dict[str, Any]:
    running = row.state == "RUNNING"
    view: dict[str, Any] = {
        "cluster_id": row.cluster_id,
        "cluster_name": row.cluster_name,
        "cluster_source": "JOB" if row.kind == "JOB" else "API",
        "state": row.state,
        "state_message": row.state_message or "",
    }
    if row.cluster_key is not None:
        view["job_cluster_key"] = row.cluster_key
    for key in ("spark_version", "node_type_id", "num_workers"):
        if key in row.spec:
            view[key] = row.spec[key]
    if row.start_time:
        view["start_time"] = row.start_time
    if row.terminated_time and not running:
        view["terminated_time"] = row.terminated_time
    if row.ui_url:
        view["spark_ui_url"] = row.ui_url  # live only while the cluster runs
    if row.folder:
        view["driver_log"] = str(Path(row.folder) / "driver.log")
    return view
