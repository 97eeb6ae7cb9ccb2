"""Which compute a task names: a job cluster, its own new_cluster, a named cluster, or none.

Pure: the coordinator puts the result in the attempt's payload (`payload["compute"]`), and the
worker's compute layer (`headrace.compute`) turns it into a running Spark server.
"""

from __future__ import annotations

from typing import Any

from headrace.spec.models import JobSettings, Task

# Task types that get Spark compute from their cluster (the others ignore cluster fields).
SPARK_TASK_TYPES = frozenset(
    {
        "notebook_task",
        "spark_python_task",
        "python_wheel_task",
        "spark_jar_task",
        "spark_submit_task",
        "pipeline_task",
    }
)


def task_compute(settings: JobSettings, task: Task) -> dict[str, Any] | None:
    """`{"kind": "named", "cluster_id"}`, `{"kind": "job", "key", "spec"}` or None (no
    cluster: serverless style, `environment_key`, or nothing)."""
    if task.existing_cluster_id:
        return {"kind": "named", "cluster_id": task.existing_cluster_id}
    if task.new_cluster is not None:
        # A task's own cluster: one per task of the run (keyed by the task).
        return {"kind": "job", "key": f"task-{task.task_key}", "spec": dict(task.new_cluster)}
    if task.job_cluster_key:
        for cluster in settings.job_clusters or ():
            if cluster.get("job_cluster_key") == task.job_cluster_key:
                spec = cluster.get("new_cluster") or {}
                return {"kind": "job", "key": task.job_cluster_key, "spec": dict(spec)}
        return {"kind": "job", "key": task.job_cluster_key, "spec": {}}
    return None


def job_cluster_id(run_id: int, key: str) -> str:
    """The cluster id of a run's job cluster `key` (as `task_compute` keys them)."""
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in key)[:40]
    return f"run-{run_id}-{safe}"


def cluster_id_of(run_id: int, task: dict[str, Any]) -> str | None:
    """The cluster a task (its settings as JSON) runs on in run `run_id`, if it names one."""
    if task.get("existing_cluster_id"):
        return str(task["existing_cluster_id"])
    if task.get("new_cluster") is not None:
        return job_cluster_id(run_id, f"task-{task.get('task_key')}")
    if task.get("job_cluster_key"):
        return job_cluster_id(run_id, str(task["job_cluster_key"]))
    return None
