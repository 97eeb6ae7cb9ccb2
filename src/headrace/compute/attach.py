"""What the worker does for a task with Spark: acquire its cluster, pass only an address.

`spark_task_env` is the one call the supervisor makes: it returns the environment entries of
the task process (SPARK_REMOTE for a named or job cluster, the runtime's Python packages for a cluster or a
serverless environment,
the runtime hook on PYTHONPATH for every Spark-capable task type) and writes a line about the cluster to the task's log.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import IO, Any

from headrace.spec.compute import SPARK_TASK_TYPES

_SPARK_PATH = Path(__file__).resolve().parents[1] / "runtime" / "spark_path"
# The worker's settings a task process needs when it starts the warm server itself (the
# supervisor keeps HEADRACE_* variables from tasks): its size, idle time, conf, address and
# the catalog's, so the warm server is made as the worker's own clusters are.
_WARM_SETTINGS = (
    "HEADRACE_SPARK_DRIVER_MEMORY",
    "HEADRACE_SPARK_IDLE_SECONDS",
    "HEADRACE_SPARK_START_SECONDS",
    "HEADRACE_SPARK_WARM_CONF",
    "HEADRACE_SPARK_BIND_HOST",
    "HEADRACE_SPARK_ADVERTISE_HOST",
    "HEADRACE_DEFAULT_CATALOG",
    "HEADRACE_METASTORE_IDLE_SECONDS",
    "HEADRACE_METASTORE_START_SECONDS",
    "HEADRACE_METASTORE_XMX",
    "HEADRACE_SPARK_JAR_DRIVER",  # `submit`: JAR tasks in their own JVM (worker/jar_driver.py)
)


def spark_task_env(
    payload: dict[str, Any], home: Path, store: Any, current_env: dict[str, str], log: IO[bytes]
) -> dict[str, str]:
    """Environment entries for the attempt's process ({} for task types without Spark).

    Raises:
        ComputeError: the task's cluster could not start (Spark's own message).
    """
    task_type = payload.get("task_type", "")
    if task_type not in SPARK_TASK_TYPES:
        return {}
    path = current_env.get("PYTHONPATH")
    env = {
        "HEADRACE_SPARK_HOOK": "1",
        "HEADRACE_PYTHON": sys.executable,
        "PYTHONPATH": str(_SPARK_PATH) + (os.pathsep + path if path else ""),
    }
    env.update({k: os.environ[k] for k in _WARM_SETTINGS if os.environ.get(k)})
    compute = payload.get("compute")
    if compute is not None or payload.get("environment") is not None:
        # On a cluster, and in a serverless environment (its client includes Databricks
        # Connect), the runtime's packages (pyspark, ...) are there even when the task's
        # environment lacks them, after its own (compute.runtime_packages).
        from headrace.compute.runtime_packages import RUNTIME_ENV, runtime_folder

        runtime = runtime_folder(home)
        if runtime is not None:
            env[RUNTIME_ENV] = str(runtime)
    if compute is None or store is None:
        return env
    # Only now: the cluster machinery (compute.clusters, .server) is not for a shell task.
    from headrace.compute.clusters import acquire_for_task

    log.write(f"[headrace] waiting for Spark cluster {_name(compute)}\n".encode())
    log.flush()
    address = acquire_for_task(
        compute, task_type=task_type, home=home, store=store, run_id=int(payload["run_id"])
    )
    if address is None:
        return env
    ui = f", Spark UI {address.ui_url}" if address.ui_url else ""
    log.write(f"[headrace] on Spark cluster {address.cluster_id} ({address.remote}{ui})\n".encode())
    log.flush()
    env.update(address.task_env())
    return env


def _name(compute: dict[str, Any]) -> str:
    if compute.get("kind") == "named":
        return str(compute.get("cluster_id"))
    return str(compute.get("key"))
