"""Plan preview (issue 16): what a run of a job would do, computed before it runs.

Pure reading: the task order in layers, the job parameters and every reference that can be
resolved up front (and those that wait for the run's start or for upstream task values), the
environments and clusters it would build or start, the tasks a condition could exclude, and
what `max_concurrent_runs` and the queue make of a new run now. Nothing is written: the store
is read in one read-only transaction, environments are only looked up (never built), clusters
are only described (never started).

The faces (CLI, API, UI) call `preview`; what lives below the engine (the environment cache,
compute) is passed in as probes so this module keeps to its layer.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from headrace.engine.jobs import Principal
from headrace.engine.rules import check_parameters, evaluate_condition

# Which task types build their environment (the coordinator's list) and which get a cluster
# (the compute layer's): the preview shows what a run would do, so it asks the same lists.
from headrace.engine.task_starts import ENVIRONMENT_TASK_TYPES
from headrace.spec.compute import SPARK_TASK_TYPES
from headrace.spec.models import JobSettings, Task
from headrace.spec.references import _REFERENCE, _known_parts
from headrace.store import runs as run_store
from headrace.store.db import Store

_SETTINGS_SKIPPED = frozenset({"task_key", "depends_on", "description", "email_notifications"})

# Where an unresolved reference gets its value.
AT_START = "run_start"  # known when the run (or the task's attempt) starts
UPSTREAM = "upstream"  # a value or state of an upstream task
ITERATION = "iteration"  # a for_each iteration's input

EnvProbe = Callable[[dict[str, Any]], dict[str, Any]]
ClusterProbe = Callable[[str, dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class QueueFacts:
    """What the store says of a job's runs right now (None for a job not in the store)."""

    max_concurrent_runs: int
    active_runs: int
    queued_runs: int
    queue_enabled: bool


def admission_of(facts: QueueFacts, queue: bool | None = None) -> dict[str, Any]:
    """What max_concurrent_runs makes of a run started now: RUN, QUEUE (at a position) or SKIP.

    The same rule as `Coordinator._admissions` (reference §6.11): a run starts when the job has
    a free slot and nothing queued; else it queues (queue enabled, limit > 0) or is skipped."""
    limit, active, waiting = facts.max_concurrent_runs, facts.active_runs, facts.queued_runs
    out: dict[str, Any] = {
        "max_concurrent_runs": limit,
        "active_runs": active,
        "queued_runs": waiting,
        "queue_enabled": facts.queue_enabled if queue is None else queue,
    }
    if active < limit and not waiting:
        return {**out, "admission": "RUN", "queue_position": None, "message": "starts at once"}
    why = f"the job already has {active} active run(s) (max_concurrent_runs={limit})"
    if out["queue_enabled"] and limit > 0:
        pos = waiting + 1
        return {
            **out,
            "admission": "QUEUE",
            "queue_position": pos,
            "message": f"queued #{pos}: {why}",
        }
    return {**out, "admission": "SKIP", "queue_position": None, "message": f"skipped: {why}"}


def queue_facts(conn: Connection, settings: JobSettings, job_id: int) -> QueueFacts:
    """Read the job's active and queued runs (no lock: a preview, not an admission)."""
    return QueueFacts(
        max_concurrent_runs=settings.max_concurrent_runs,
        active_runs=run_store.count_admitted_runs(conn, job_id),
        queued_runs=len(run_store.queued_runs(conn, job_id)),
        queue_enabled=settings.queue.enabled if settings.queue is not None else True,
    )


def layers_of(settings: JobSettings) -> list[list[str]]:
    """Tasks in layers: a task's layer is one more than its deepest upstream's (roots: 0).

    Every task of a layer may run at once, given slots. Linear in tasks + edges."""
    depth: dict[str, int] = {}
    deps = {t.task_key: [d.task_key for d in t.depends_on] for t in settings.tasks}
    for key in deps:
        if key in depth:
            continue
        stack = [key]
        while stack:  # iterative DFS: a 10,000-task chain must not hit the recursion limit
            top = stack[-1]
            missing = [d for d in deps[top] if d not in depth]
            if missing:
                stack.extend(missing)
                continue
            stack.pop()
            depth[top] = 1 + max((depth[d] for d in deps[top]), default=-1)
    out: list[list[str]] = [[] for _ in range(1 + max(depth.values(), default=-1))]
    for t in settings.tasks:  # keep the spec's order inside a layer
        out[depth[t.task_key]].append(t.task_key)
    return out


class _Scope:
    """Resolves what is known before a run exists; remembers what has to wait, and why."""

    def __init__(self, settings: JobSettings, job_id: int | None, params: dict[str, str]):
        self.settings = settings
        self.job_id = job_id
        self.params = params
        self.task: Task | None = None
        self.waiting: dict[str, str] = {}

    def __call__(self, parts: tuple[str, ...]) -> str:
        value, where = self._value(parts)
        if value is not None:
            return value
        text = "{{" + ".".join(parts) + "}}"
        self.waiting[text] = where
        return text

    def _value(self, parts: tuple[str, ...]) -> tuple[str | None, str]:
        head, rest = parts[0], parts[1:]
        if head == "job":
            return self._job(rest)
        if head == "task":
            return self._task(rest)
        if head == "tasks":
            return None, UPSTREAM
        if head == "input":
            return None, ITERATION
        if head == "workspace":
            return {"id": "0", "url": "http://127.0.0.1"}.get(rest[0] if rest else "", ""), ""
        # Legacy one-word names and backfill dates are known at start.
        return None, AT_START

    def _job(self, rest: tuple[str, ...]) -> tuple[str | None, str]:
        if rest == ("id",):
            return (str(self.job_id) if self.job_id is not None else None), AT_START
        if rest == ("name",):
            return self.settings.name, ""
        if len(rest) == 2 and rest[0] == "parameters" and rest[1] in self.params:
            return self.params[rest[1]], ""
        return None, AT_START

    def _task(self, rest: tuple[str, ...]) -> tuple[str | None, str]:
        task = self.task
        if task is not None and rest == ("name",):
            return task.task_key, ""
        if task is not None and rest == ("notebook_path",) and task.notebook_task is not None:
            return task.notebook_task.notebook_path, ""
        return None, AT_START


# A template's pieces: literal text and reference parts alternating. Jobs repeat the same few
# templates over many tasks; parsing each once keeps a 10,000-task plan well under a second.
_Pieces = tuple[tuple[str, tuple[str, ...] | None], ...]
_TEMPLATES: dict[str, _Pieces] = {}


def _pieces(text: str) -> _Pieces:
    found = _TEMPLATES.get(text)
    if found is None:
        out: list[tuple[str, tuple[str, ...] | None]] = []
        pos = 0
        for match in _REFERENCE.finditer(text):
            parts = _known_parts(match)
            out.append((text[pos : match.start()], None))
            out.append((match.group(0), parts))
            pos = match.end()
        out.append((text[pos:], None))
        found = tuple(out)
        if len(_TEMPLATES) > 10_000:
            _TEMPLATES.clear()
        _TEMPLATES[text] = found
    return found


def _render(text: str, scope: _Scope) -> str:
    """`spec.references.render`, with each template parsed once."""
    return "".join(t if parts is None else scope(parts) for t, parts in _pieces(text))


def _render_deep(value: Any, scope: _Scope) -> Any:
    if isinstance(value, str):
        return _render(value, scope) if "{{" in value else value
    if isinstance(value, list):
        return [_render_deep(v, scope) for v in value]
    if isinstance(value, dict):
        return {k: _render_deep(v, scope) for k, v in value.items()}
    return value


def _job_parameters(settings: JobSettings, given: dict[str, str], scope: _Scope) -> list[dict]:
    out = []
    for p in settings.parameters:
        scope.waiting = {}
        raw = given.get(p.name, p.default)
        value = _render(raw, scope)
        row = {"name": p.name, "default": p.default, "value": value, "overridden": p.name in given}
        if scope.waiting:
            row["waits_for"] = sorted(scope.waiting)
        out.append(row)
    return out


def _task_settings(task: Task) -> Any:
    settings = task.task_type_settings
    if isinstance(settings, dict):
        return settings
    return settings.model_dump(mode="json", exclude_none=True, exclude=set(_SETTINGS_SKIPPED))


def _conditional(
    settings: JobSettings, layers: list[list[str]], outcomes: dict[str, bool | None]
) -> dict[str, dict]:
    """Tasks a condition (or `disabled`) could exclude, with the reason; `certain` when the
    condition's operands are known up front and exclude it for sure."""
    out: dict[str, dict[str, Any]] = {}
    order = [k for layer in layers for k in layer]
    tasks = {t.task_key: t for t in settings.tasks}
    for key in order:
        t = tasks[key]
        reasons: list[str] = []
        certain = False
        for d in t.depends_on:
            if d.outcome is not None:
                taken = outcomes.get(d.task_key)
                if taken is None:
                    reasons.append(f"runs only if condition {d.task_key!r} is {d.outcome}")
                elif str(taken).lower() != str(d.outcome).lower():
                    reasons.append(f"condition {d.task_key!r} comes out {str(taken).lower()}")
                    certain = True
        if t.depends_on and all(d.task_key in out for d in t.depends_on):
            ups = [d.task_key for d in t.depends_on]
            reasons.append(f"every upstream task may be excluded ({', '.join(ups)})")
            certain = certain or all(out[u]["certain"] for u in ups)
        if t.disabled:
            reasons.append("disabled")
            certain = True
        if reasons:
            out[key] = {"task_key": key, "reasons": reasons, "certain": certain}
    return out


def preview(
    settings: JobSettings,
    *,
    parameters: dict[str, str] | None = None,
    job_id: int | None = None,
    queue: QueueFacts | None = None,
    env_probe: EnvProbe | None = None,
    cluster_probe: ClusterProbe | None = None,
) -> dict[str, Any]:
    """The plan of a run of `settings` (see docs/plan-preview.md for the shape).

    Raises: SpecError (a parameter the job does not define)."""
    given = parameters or {}
    check_parameters(settings, given)
    scope = _Scope(settings, job_id, {})
    job_params = _job_parameters(settings, given, scope)
    scope.params = {p["name"]: p["value"] for p in job_params if "waits_for" not in p}
    layers = layers_of(settings)
    layer_of = {k: i for i, layer in enumerate(layers) for k in layer}
    tasks_out, outcomes = [], {}
    for t in settings.tasks:
        scope.task, scope.waiting = t, {}
        kind = t.task_type
        resolved = _render_deep(_task_settings(t), scope)
        row: dict[str, Any] = {
            "task_key": t.task_key,
            "task_type": kind,
            "layer": layer_of[t.task_key],
            "depends_on": [
                {"task_key": d.task_key, **({"outcome": d.outcome} if d.outcome else {})}
                for d in t.depends_on
            ],
            "run_if": t.run_if,
            "settings": resolved,
            "waits_for": {ref: where for ref, where in sorted(scope.waiting.items())},
        }
        names = ("environment_key", "job_cluster_key", "existing_cluster_id", "worker_pool")
        for name in (*names, "priority"):
            if getattr(t, name) is not None:
                row[name] = getattr(t, name)
        if t.max_retries:
            row["max_retries"] = t.max_retries
        if kind == "condition_task" and not scope.waiting:
            cond = resolved
            try:
                outcomes[t.task_key] = evaluate_condition(cond["op"], cond["left"], cond["right"])
                row["outcome"] = str(outcomes[t.task_key]).lower()
            except ValueError as exc:
                row["outcome_error"] = str(exc)
        if kind == "for_each_task":
            row["iterations"] = _iterations(resolved.get("inputs"))
        tasks_out.append(row)
    conditional = _conditional(settings, layers, outcomes)
    for row in tasks_out:
        if row["task_key"] in conditional:
            row["may_be_excluded"] = conditional[row["task_key"]]
    plan: dict[str, Any] = {
        "job": {"job_id": job_id, "name": settings.name, "priority": settings.priority or 0},
        "task_count": len(settings.tasks),
        "layers": layers,
        "job_parameters": job_params,
        "tasks": tasks_out,
        "may_be_excluded": list(conditional.values()),
        "waiting_references": _waiting_summary(tasks_out),
        "environments": _environments(settings, env_probe),
        "clusters": _clusters(settings, cluster_probe),
        "queue": admission_of(queue) if queue is not None else None,
    }
    return plan


def _iterations(inputs: Any) -> int | None:
    """How many iterations a for_each task would run, when its inputs are known up front."""
    if not isinstance(inputs, str) or "{{" in inputs:
        return None
    try:
        value = json.loads(inputs)
    except ValueError:
        return None
    return len(value) if isinstance(value, list) else None


def _waiting_summary(tasks: list[dict[str, Any]]) -> dict[str, int]:
    counts = {AT_START: 0, UPSTREAM: 0, ITERATION: 0}
    for row in tasks:
        for where in row["waits_for"].values():
            counts[where] = counts.get(where, 0) + 1
    return counts


def _environments(settings: JobSettings, probe: EnvProbe | None) -> list[dict[str, Any]]:
    users: dict[str, list[str]] = {}
    for t in settings.tasks:
        if t.environment_key is not None and t.task_type in ENVIRONMENT_TASK_TYPES:
            users.setdefault(t.environment_key, []).append(t.task_key)
    out = []
    for env in settings.environments:
        spec = env.spec.model_dump(mode="json", exclude_none=True)
        row: dict[str, Any] = {
            "environment_key": env.environment_key,
            "dependencies": list(spec.get("dependencies") or []),
            "tasks": users.get(env.environment_key, []),
        }
        if probe is not None and row["tasks"]:
            row.update(probe(spec))  # key, cached, path: looked up, never built
        out.append(row)
    return out


def _clusters(settings: JobSettings, probe: ClusterProbe | None) -> list[dict[str, Any]]:
    """Job clusters (started by their first task, stopped at run end), named clusters (long
    lived, started on demand) and per-task new clusters the run would use. Tasks of a type
    without Spark ignore their cluster fields (`compute.clusters.acquire_for_task`), so they
    use none."""
    out: dict[str, dict[str, Any]] = {}
    for spec in settings.job_clusters or []:
        key = str(spec.get("job_cluster_key", ""))
        out[f"job:{key}"] = {
            "kind": "job_cluster",
            "job_cluster_key": key,
            "spec": spec.get("new_cluster", {}),
            "lifetime": "this run: started by its first task, stopped when the run ends",
            "cached": False,
            "tasks": [],
        }
    for t in settings.tasks:
        if t.task_type not in SPARK_TASK_TYPES:
            continue
        if t.job_cluster_key is not None:
            out.setdefault(
                f"job:{t.job_cluster_key}",
                {"kind": "job_cluster", "job_cluster_key": t.job_cluster_key, "tasks": []},
            )["tasks"].append(t.task_key)
        elif t.existing_cluster_id is not None:
            out.setdefault(
                f"named:{t.existing_cluster_id}",
                {
                    "kind": "existing_cluster",
                    "cluster_id": t.existing_cluster_id,
                    "lifetime": "long-lived: started on demand, kept after the run",
                    "tasks": [],
                },
            )["tasks"].append(t.task_key)
        elif t.new_cluster is not None:
            out[f"task:{t.task_key}"] = {
                "kind": "new_cluster",
                "spec": t.new_cluster,
                "lifetime": "this task",
                "cached": False,
                "tasks": [t.task_key],
            }
    rows = list(out.values())
    if probe is not None:
        rows = [{**row, **probe(row["kind"], row)} for row in rows]
    return rows


def cluster_probe_of(conn: Connection, settings: JobSettings) -> ClusterProbe:
    """A probe that reads named clusters' states from the store (never starts one): whether a
    run would find its `existing_cluster_id` running, start it, or fail for want of it."""
    from headrace.store import spark_clusters

    wanted = {t.existing_cluster_id for t in settings.tasks if t.existing_cluster_id}
    found = {cid: spark_clusters.find_cluster(conn, cid) for cid in sorted(wanted)}

    def probe(kind: str, row: dict[str, Any]) -> dict[str, Any]:
        if kind != "existing_cluster":
            return {"would_start": True}
        cluster = found.get(row["cluster_id"])
        if cluster is None:
            return {"state": None, "would_start": False, "problem": "no such cluster"}
        return {"state": cluster.state, "would_start": cluster.state != "RUNNING"}

    return probe


def preview_job(
    store: Store,
    who: Principal | None,
    job_id: int,
    *,
    parameters: dict[str, str] | None = None,
    env_probe: EnvProbe | None = None,
    cluster_probe: ClusterProbe | None = None,
) -> dict[str, Any]:
    """The plan of a run of stored job `job_id` now (needs CAN_VIEW when `who` is given).

    One read-only transaction. Raises: NotFound, PermissionDenied, SpecError."""
    from headrace.engine import jobs as job_service
    from headrace.spec.loader import parse_job_settings
    from headrace.store import jobs as job_store

    with store.read() as conn:
        if who is not None:
            job = job_service.require(conn, who, job_id, "CAN_VIEW")
        else:
            job = job_store.get_job(conn, job_id)
        settings = parse_job_settings(job.settings)
        facts = queue_facts(conn, settings, job_id)
        if cluster_probe is None:
            cluster_probe = cluster_probe_of(conn, settings)
    return preview(
        settings,
        parameters=parameters,
        job_id=job_id,
        queue=facts,
        env_probe=env_probe,
        cluster_probe=cluster_probe,
    )
