"""Spark clusters as the Clusters API and `headrace clusters` see them: a stored cluster's
ClusterDetails, checking and recording a named cluster's spec, deleting one, and the runtime
versions and node types a client may choose.

Starting and stopping clusters (job clusters, named clusters on demand, the reaper) is in
`cluster_lifecycle.py`; its entry points are importable from here too, so callers need one
module: `acquire_for_task` (workers), `ensure_named`, `stop_cluster`, `reap`, ...
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from headrace.compute.cluster_lifecycle import (
    SPARK_TASK_TYPES,
    ClusterAddress,
    ComputeError,
    acquire_for_task,
    autotermination_seconds,
    cluster_folder,
    clusters_dir,
    db_url_of,
    ensure_job_cluster,
    ensure_named,
    new_cluster_id,
    reap,
    start_named_in_background,
    stop_cluster,
    stop_run_clusters,
)
from headrace.compute.server import pid_alive, read_state
from headrace.errors import NotFound


def cluster_info(row: Any) -> dict[str, Any]:
    """A Clusters API ClusterDetails for a stored cluster."""
    spec = row.spec or {}
    state = row.state
    folder = Path(row.folder) if row.folder else None
    live = read_state(folder) if folder is not None else None
    if live and state in ("PENDING", "RUNNING") and not pid_alive(live.get("keeper_pid")):
        state = "TERMINATED"
    info: dict[str, Any] = {
        "cluster_id": row.cluster_id,
        "cluster_name": row.cluster_name,
        "spark_version": spec.get("spark_version", ""),
        "node_type_id": spec.get("node_type_id", ""),
        "num_workers": spec.get("num_workers", 0),
        "state": state,
        "state_message": row.state_message or "",
        "cluster_source": "JOB" if row.kind == "JOB" else "API",
        "spark_conf": spec.get("spark_conf") or {},
        "spark_env_vars": spec.get("spark_env_vars") or {},
        "custom_tags": spec.get("custom_tags") or {},
        "autotermination_minutes": spec.get("autotermination_minutes", 0),
        "creator_user_name": row.creator_user_name or "",
    }
    for key in ("autoscale", "driver_node_type_id", "data_security_mode", "runtime_engine"):
        if key in spec:
            info[key] = spec[key]
    if row.start_time:
        info["start_time"] = row.start_time
    if state == "ERROR":  # as Databricks shows a cluster that failed to start
        info["state"] = "TERMINATED"
        info["termination_reason"] = {
            "code": "SPARK_STARTUP_FAILURE",
            "type": "CLIENT_ERROR",
            "parameters": {"databricks_error_message": row.state_message or ""},
        }
    if row.terminated_time and state in ("TERMINATED", "ERROR"):
        info["terminated_time"] = row.terminated_time
    if live:
        if state == "RUNNING" and live.get("ui_port"):
            info["spark_context_id"] = int(live["ui_port"])
            info["spark_ui_url"] = f"http://127.0.0.1:{live['ui_port']}"
            info["spark_remote"] = f"sc://{live.get('host') or '127.0.0.1'}:{live['port']}"
            info["spark_master"] = live.get("master")
        info["driver_log"] = live.get("driver_log")
    if row.run_id is not None:
        info["job_run_id"] = row.run_id
        info["job_cluster_key"] = row.cluster_key
    return info


SPEC_FIELDS = (
    "cluster_name",
    "spark_version",
    "node_type_id",
    "driver_node_type_id",
    "num_workers",
    "autoscale",
    "spark_conf",
    "spark_env_vars",
    "custom_tags",
    "autotermination_minutes",
    "data_security_mode",
    "runtime_engine",
    "single_user_name",
    "policy_id",
    "instance_pool_id",
    "aws_attributes",
    "azure_attributes",
    "gcp_attributes",
    "init_scripts",
    "cluster_log_conf",
    "enable_elastic_disk",
    "spark_master",
    "spark_bind_host",
)


# Spark settings that would make a cluster listen beyond this machine: Spark Connect has no
# authentication, so whoever reaches the port runs code as the Headrace user.
_EXPOSING_CONF = ("spark.driver.bindAddress", "spark.driver.host")


def _loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve anywhere
        return False


def check_spec(spec: dict[str, Any], *, may_expose: bool = True) -> dict[str, Any]:
    """A named cluster's spec, checked: unknown spark_version / node_type_id values are kept
    (they describe cloud hardware); conf and env values must be flat maps. Without
    `may_expose` (an API caller who is not an admin) the cluster must stay on loopback.

    Raises:
        SpecError: a field of the wrong shape, named.
        PermissionDenied: a non-loopback `spark_bind_host` (or driver address) from a non-admin.
    """
    from headrace.errors import PermissionDenied, SpecError, SpecIssue

    if not may_expose:
        conf = spec.get("spark_conf") if isinstance(spec.get("spark_conf"), dict) else {}
        asked = {"spark_bind_host": spec.get("spark_bind_host")}
        asked |= {f"spark_conf.{k}": conf.get(k) for k in _EXPOSING_CONF}
        for field, value in asked.items():
            if value not in (None, "") and not _loopback(str(value)):
                raise PermissionDenied(
                    f"{field}: only an admin may make a cluster listen beyond this machine"
                    " (Spark Connect has no authentication); the operator's setting is"
                    " HEADRACE_SPARK_BIND_HOST"
                )

    name = spec.get("cluster_name")
    if not isinstance(name, str) or not name.strip():
        raise SpecError([SpecIssue("cluster_name", "is required (a non-empty string)")])
    for field in ("spark_conf", "spark_env_vars", "custom_tags"):
        value = spec.get(field)
        if value is not None and (
            not isinstance(value, dict)
            or not all(isinstance(v, str | int | float | bool) for v in value.values())
        ):
            raise SpecError([SpecIssue(field, "must be an object of string values")])
    workers = spec.get("num_workers")
    if workers is not None and (not isinstance(workers, int) or workers < 0):
        raise SpecError([SpecIssue("num_workers", "must be a non-negative integer")])
    minutes = spec.get("autotermination_minutes")
    if minutes is not None and (
        isinstance(minutes, bool) or not isinstance(minutes, int | float) or minutes < 0
    ):
        raise SpecError(
            [SpecIssue("autotermination_minutes", "must be a non-negative number (0: never)")]
        )
    return {k: v for k, v in spec.items() if k in SPEC_FIELDS}


def create_named(
    store: Any,
    home: Path,
    spec: dict[str, Any],
    *,
    creator: str | None,
    start: bool,
    may_expose: bool = True,
) -> str:
    """Record a named cluster (and start it in the background, as clusters/create does)."""
    from headrace.store import spark_clusters as records

    spec = check_spec(spec, may_expose=may_expose)
    cluster_id = new_cluster_id()
    with store.begin() as conn:
        records.insert_cluster(
            conn,
            cluster_id=cluster_id,
            cluster_name=spec["cluster_name"],
            kind="NAMED",
            spec=spec,
            creator_user_name=creator,
        )
    if start:
        start_named_in_background(store, home, cluster_id)
    return cluster_id


def named_cluster(store: Any, cluster_id: str) -> Any:
    """A named cluster's row.

    Raises:
        NotFound: no such named cluster.
    """
    from headrace.store import spark_clusters as records

    with store.read() as conn:
        row = records.find_cluster(conn, cluster_id)
    if row is None:
        raise NotFound(f"Cluster {cluster_id} does not exist")
    return row


def delete_named(store: Any, home: Path, cluster_id: str, *, permanent: bool) -> None:
    """clusters/delete (stop; the cluster stays listed) or permanent-delete (stop, forget)."""
    from headrace.store import spark_clusters as records

    named_cluster(store, cluster_id)
    stop_cluster(store, home, cluster_id)
    if permanent:
        with store.begin() as conn:
            records.delete_cluster(conn, cluster_id)


# Databricks runtime versions a client may ask for; any other value is accepted too.
SPARK_VERSIONS = (
    ("16.4.x-scala2.12", "16.4 LTS (Apache Spark 3.5.2, Scala 2.12)"),
    ("15.4.x-scala2.12", "15.4 LTS (Apache Spark 3.5.0, Scala 2.12)"),
    ("14.3.x-scala2.12", "14.3 LTS (Apache Spark 3.5.0, Scala 2.12)"),
    ("13.3.x-scala2.12", "13.3 LTS (Apache Spark 3.4.1, Scala 2.12)"),
)


def spark_versions() -> list[dict[str, str]]:
    """What clusters/spark-versions lists: the local Spark first, then common runtime keys."""
    try:
        from importlib.metadata import version

        local = version("pyspark")
    except Exception:  # pyspark not installed: the keys still describe clusters
        local = None
    out = [{"key": k, "name": f"{n} - runs on local Spark"} for k, n in SPARK_VERSIONS]
    if local:
        out.insert(0, {"key": f"pyspark-{local}", "name": f"Apache Spark {local} (pyspark)"})
    return out


def node_types() -> list[dict[str, Any]]:
    """What clusters/list-node-types lists: this machine (cloud node types are accepted too)."""
    cores = os.cpu_count() or 1
    try:
        memory_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1024 * 1024)
    except (ValueError, OSError):
        memory_mb = 0
    return [
        {
            "node_type_id": "local",
            "memory_mb": memory_mb,
            "num_cores": float(cores),
            "description": f"this machine ({cores} cores): a worker becomes a local core",
            "instance_type_id": "local",
            "category": "General Purpose",
            "is_deprecated": False,
        }
    ]


__all__ = [
    "SPARK_TASK_TYPES",
    "ClusterAddress",
    "ComputeError",
    "NotFound",
    "acquire_for_task",
    "autotermination_seconds",
    "check_spec",
    "cluster_folder",
    "cluster_info",
    "clusters_dir",
    "create_named",
    "db_url_of",
    "delete_named",
    "ensure_job_cluster",
    "ensure_named",
    "named_cluster",
    "new_cluster_id",
    "node_types",
    "reap",
    "spark_versions",
    "start_named_in_background",
    "stop_cluster",
    "stop_run_clusters",
]
