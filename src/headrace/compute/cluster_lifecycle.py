"""Which Spark server a task runs on, started on demand: job clusters, named clusters, warm.

- A **job cluster** (`job_cluster_key`, or a task's own `new_cluster`) is started by the first
  task of a run that needs it, shared by the run's other tasks naming it, and stopped by its
  keeper when the run ends (cancelled or not), or when the worker process that started it dies.
- A **named cluster** (`existing_cluster_id`, `headrace clusters create`) lives until stopped;
  a task on a stopped one starts it.
- Tasks without a cluster use the data directory's **warm** server (`headrace.compute.warm`),
  started lazily by the task process on its first use of Spark.

The public entry for workers is `acquire_for_task` (also importable from `compute.clusters`); for other task types built on a cluster
(spark_jar_task, spark_submit_task) the returned `ClusterAddress` carries `master`,
`spark_home` and `conf` for a `spark-submit` against the same Spark.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import threading
import time
from pathlib import Path
from typing import Any

from headrace.compute.server import (
    ClusterAddress,
    ComputeError,
    launch_config,
    locked,
    pid_alive,
    read_state,
    running_address,
    spark_home,
    start_server,
    stop_server,
)
from headrace.spec.compute import SPARK_TASK_TYPES, job_cluster_id


def clusters_dir(home: Path) -> Path:
    return Path(home) / "spark" / "clusters"


def cluster_folder(home: Path, cluster_id: str) -> Path:
    return clusters_dir(home) / cluster_id


def db_url_of(store: Any) -> str:
    return str(store.url)


def new_cluster_id() -> str:
    """A Databricks-looking cluster id: MMDD-HHMMSS-xxxxxxxx."""
    return time.strftime("%m%d-%H%M%S-", time.gmtime()) + secrets.token_hex(4)


def acquire_for_task(
    compute: dict[str, Any] | None, *, task_type: str, home: Path, store: Any, run_id: int
) -> ClusterAddress | None:
    """The running cluster a task is to use (started now if need be); None: no cluster (the
    task may still use the warm server lazily).

    Raises:
        ComputeError: the cluster could not start (Spark's own message) or does not exist.
    """
    if compute is None or task_type not in SPARK_TASK_TYPES:
        return None
    if compute.get("kind") == "named":
        return ensure_named(store, home, str(compute["cluster_id"]))
    return ensure_job_cluster(
        store, home, run_id, str(compute["key"]), compute.get("spec") or {}, compute.get("name")
    )


def ensure_job_cluster(
    store: Any, home: Path, run_id: int, key: str, spec: dict[str, Any], name: str | None = None
) -> ClusterAddress:
    """The run's job cluster `key`, started by the first caller; the others wait for it."""
    from headrace.store import spark_clusters as records

    cluster_id = job_cluster_id(run_id, key)
    folder = cluster_folder(home, cluster_id)
    asked_at = int(time.time() * 1000)
    with locked(folder):
        address = running_address(folder)
        if address is not None:
            return address
        with store.begin() as conn:
            row = records.find_cluster(conn, cluster_id)
            if row is None:
                records.insert_cluster(
                    conn,
                    cluster_id=cluster_id,
                    cluster_name=name or f"job-{run_id}-{key}",
                    kind="JOB",
                    spec=spec,
                    run_id=run_id,
                    cluster_key=key,
                    state="PENDING",
                )
        if row is not None and row.state == "ERROR" and (row.terminated_time or 0) >= asked_at:
            # It failed while this task waited for it: fail with the same reason, no new JVM
            # (a retry or repair later tries again).
            raise ComputeError(row.state_message)
        if row is not None and row.state == "TERMINATED" and records.run_ended(store, run_id):
            raise ComputeError(f"job cluster {key} was stopped: its run has ended")
        config = launch_config(
            home,
            cluster_id,
            spec,
            owner_pid=os.getpid(),
            db_url=db_url_of(store),
            run_id=run_id,
        )
        return _start_recorded(store, folder, config)


def _start_recorded(store: Any, folder: Path, config: dict[str, Any]) -> ClusterAddress:
    from headrace.store import spark_clusters as records

    config["record"] = True
    cluster_id = config["cluster_id"]
    records.update_cluster(
        store,
        cluster_id,
        state="PENDING",
        state_message="starting Spark",
        host=socket.gethostname(),
        folder=str(folder),
        start_time=int(time.time() * 1000),
        terminated_time=None,
    )
    try:
        address = start_server(folder, config)
    except ComputeError as exc:
        records.update_cluster(
            store,
            cluster_id,
            state="ERROR",
            state_message=str(exc),
            terminated_time=int(time.time() * 1000),
        )
        raise
    state = read_state(folder) or {}
    records.update_cluster(
        store,
        cluster_id,
        state="RUNNING",
        state_message="",
        pid=state.get("keeper_pid"),
        remote=address.remote,
        ui_url=address.ui_url,
    )
    return address


def ensure_named(store: Any, home: Path, cluster_id: str) -> ClusterAddress:
    """A named cluster's address, started first if it is not running.

    Raises:
        ComputeError: no such cluster, or Spark failed to start.
    """
    from headrace.store import spark_clusters as records

    with store.read() as conn:
        row = records.find_cluster(conn, cluster_id)
    if row is None or row.kind != "NAMED":
        raise ComputeError(
            f"existing_cluster_id {cluster_id!r}: no such cluster "
            "(create one with `headrace clusters create NAME`)"
        )
    elsewhere = _running_elsewhere(row)
    if elsewhere is not None:
        return elsewhere
    folder = cluster_folder(home, cluster_id)
    with locked(folder):
        address = running_address(folder)
        if address is not None:
            return address
        config = launch_config(
            home,
            cluster_id,
            row.spec,
            db_url=db_url_of(store),
            idle_seconds=autotermination_seconds(row.spec),
        )
        return _start_recorded(store, folder, config)


def _running_elsewhere(row: Any) -> ClusterAddress | None:
    """A named cluster running on another machine (bound to an address this worker can
    reach, `spark_bind_host`): its recorded address, so this worker does not start a second."""
    if row.state != "RUNNING" or not row.remote or not row.host:
        return None
    if row.host == socket.gethostname() or row.remote.startswith("sc://127.0.0.1:"):
        return None
    spec = row.spec or {}
    return ClusterAddress(
        cluster_id=row.cluster_id,
        remote=row.remote,
        master=str(spec.get("spark_master") or "remote"),
        spark_home=str(spark_home()),
        ui_url=row.ui_url,
        driver_log="",
        conf={},
        env={str(k): str(v) for k, v in (spec.get("spark_env_vars") or {}).items()},
    )


def autotermination_seconds(spec: dict[str, Any]) -> float | None:
    """A named cluster's `autotermination_minutes` in seconds; None (0, unset): never.

    Idle, as on Databricks: no Spark job ran or ended, and no task process held the cluster,
    for that long (the keeper watches both; see `headrace.compute.keeper`). Fractions of a
    minute are accepted (Databricks allows 10 to 10000 whole minutes; tests use seconds).
    """
    try:
        minutes = float(spec.get("autotermination_minutes") or 0)
    except (TypeError, ValueError):
        return None
    return minutes * 60.0 if minutes > 0 else None


def start_named_in_background(store: Any, home: Path, cluster_id: str) -> None:
    """clusters/start: return at once (state PENDING), start in a thread, as Databricks does."""
    from headrace.store import spark_clusters as records

    with store.read() as conn:
        row = records.get_cluster(conn, cluster_id)
    if row.state in ("PENDING", "RUNNING") and pid_alive(row.pid):
        return
    records.update_cluster(store, cluster_id, state="PENDING", state_message="starting Spark")

    def start() -> None:
        # A failure is recorded as the cluster's ERROR state by _start_recorded.
        with contextlib.suppress(Exception):
            ensure_named(store, home, cluster_id)

    threading.Thread(target=start, name=f"start-{cluster_id}", daemon=True).start()


def stop_cluster(store: Any, home: Path, cluster_id: str) -> bool:
    """Stop a cluster (named or job); True if it was running.

    Raises:
        NotFound: no such cluster.
    """
    from headrace.store import spark_clusters as records

    with store.read() as conn:
        row = records.get_cluster(conn, cluster_id)
    folder = Path(row.folder) if row.folder else cluster_folder(home, cluster_id)
    was_running = stop_server(folder)
    if row.state not in ("TERMINATED", "ERROR") or was_running:
        state = read_state(folder) or {}
        records.update_cluster(
            store,
            cluster_id,
            state="TERMINATED",
            state_message=state.get("state_message") or "stopped",
            terminated_time=int(time.time() * 1000),
        )
    return was_running


def stop_run_clusters(store: Any, home: Path, run_id: int) -> list[str]:
    """Stop every job cluster of a run (its keeper does it too; this is the quick path)."""
    from headrace.store import spark_clusters as records

    with store.read() as conn:
        rows = records.clusters_of_run(conn, run_id)
    stopped = []
    for row in rows:
        if row.state in ("PENDING", "RUNNING", "TERMINATING") and stop_cluster(
            store, home, row.cluster_id
        ):
            stopped.append(row.cluster_id)
    return stopped


def reap(store: Any) -> list[str]:
    """Recovery: stop job clusters of ended runs and record clusters whose keeper died.

    Only clusters of this host are touched (a pid means nothing on another machine).
    """
    from headrace.store import spark_clusters as records

    host = socket.gethostname()
    with store.read() as conn:
        rows = records.live_clusters(conn)
    reaped = []
    for row in rows:
        if row.host not in (None, host):
            continue
        folder = Path(row.folder) if row.folder else None
        if not pid_alive(row.pid) and row.state != "PENDING":
            records.update_cluster(
                store,
                row.cluster_id,
                state="TERMINATED",
                state_message="its keeper process ended",
                terminated_time=int(time.time() * 1000),
            )
            reaped.append(row.cluster_id)
        elif (
            row.kind == "JOB"
            and row.run_id is not None
            and folder is not None
            and records.run_ended(store, row.run_id)
        ):
            stop_server(folder)
            records.update_cluster(
                store,
                row.cluster_id,
                state="TERMINATED",
                state_message="stopped: its run ended",
                terminated_time=int(time.time() * 1000),
            )
            reaped.append(row.cluster_id)
    return reaped
