"""`headrace plan FILE|JOB`: print what a run would do, without starting anything (issue 16)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from headrace.config import Settings
from headrace.errors import NotFound, SpecError


def _store_if_present(settings: Settings) -> Any:
    """The store, opened read-only in spirit: a missing SQLite file is not created, and a
    store at another schema revision is not migrated (the plan then has no queue facts)."""
    from headrace.store.db import SCHEMA_HEAD, current_revision, open_store

    url = settings.db_url
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return None
    store = open_store(url, migrate=False)
    if current_revision(store) != SCHEMA_HEAD:
        store.dispose()
        return None
    return store


def plan(target: str, *, params: dict[str, str], job_name: str | None, db: str | None) -> dict:
    """The plan of `target`: a spec file, or a stored job's id or name."""
    from headrace.engine import plan_preview
    from headrace.worker.plan_probe import environment_probe

    settings = Settings.load(db=db)
    probe = environment_probe(settings.home)
    path = Path(target)
    if path.exists():
        from headrace.cli.run_command import _pick_job
        from headrace.spec.loader import load_job_file

        job = _pick_job(load_job_file(path), job_name, path)
        store = _store_if_present(settings)
        job_id, facts, clusters = None, None, None
        if store is not None:
            from headrace.store import jobs as job_store

            with store.read() as conn:
                found = job_store.find_local_job(conn, job.name, str(path.resolve()))
                if found is not None:
                    job_id = found.job_id
                    facts = plan_preview.queue_facts(conn, job, job_id)
                clusters = plan_preview.cluster_probe_of(conn, job)
            store.dispose()
        return plan_preview.preview(
            job,
            parameters=params,
            job_id=job_id,
            queue=facts,
            env_probe=probe,
            cluster_probe=clusters,
        )
    store = _store_if_present(settings)
    if store is None:
        raise NotFound(f"{target!r} is neither a file nor a job in the store at {settings.db_url}")
    try:
        job_id = _job_id(store, target)
        return plan_preview.preview_job(store, None, job_id, parameters=params, env_probe=probe)
    finally:
        store.dispose()


def _job_id(store: Any, target: str) -> int:
    from headrace.store import jobs as job_store

    with store.read() as conn:
        jobs = job_store.all_jobs(conn)
    if target.isdigit() and any(j.job_id == int(target) for j in jobs):
        return int(target)
    named = [j.job_id for j in jobs if j.name == target]
    if len(named) == 1:
        return named[0]
    if named:
        raise SpecError(f"{len(named)} jobs are named {target!r} ({named}); give the job id")
    raise NotFound(f"{target!r} is neither a file nor a job id or name in the store")


def print_plan(data: dict[str, Any], *, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
        return
    out = sys.stdout.write
    job = data["job"]
    ident = f" (job {job['job_id']})" if job["job_id"] is not None else ""
    out(
        f"Plan of {job['name']!r}{ident}: {data['task_count']} tasks in {len(data['layers'])} layers\n"
    )
    for i, layer in enumerate(data["layers"][:50]):
        shown = ", ".join(layer[:12]) + (f", ... (+{len(layer) - 12})" if len(layer) > 12 else "")
        out(f"  layer {i}: {shown}\n")
    if len(data["layers"]) > 50:
        out(f"  ... {len(data['layers']) - 50} more layers (--json for all)\n")
    if data["job_parameters"]:
        out("Job parameters:\n")
        for p in data["job_parameters"]:
            wait = f"  (waits for {', '.join(p['waits_for'])})" if "waits_for" in p else ""
            out(f"  {p['name']} = {p['value']!r}{wait}\n")
    waiting = [t for t in data["tasks"] if t["waits_for"]]
    if waiting:
        out("References resolved later:\n")
        for t in waiting[:50]:
            refs = ", ".join(f"{r} ({w})" for r, w in t["waits_for"].items())
            out(f"  {t['task_key']}: {refs}\n")
    for env in data["environments"]:
        state = "cached" if env.get("cached") else ("would build" if env["tasks"] else "unused")
        out(f"Environment {env['environment_key']}: {state} ({len(env['dependencies'])} deps)\n")
    for c in data["clusters"]:
        name = c.get("job_cluster_key") or c.get("cluster_id") or ",".join(c["tasks"])
        out(f"Cluster {c['kind']} {name}: {c.get('lifetime', '')}; tasks {', '.join(c['tasks'])}\n")
    for ex in data["may_be_excluded"]:
        sure = "excluded" if ex["certain"] else "may be excluded"
        out(f"  {ex['task_key']}: {sure}: {'; '.join(ex['reasons'])}\n")
    queue = data["queue"]
    if queue is not None:
        out(f"Queue: {queue['admission']}: {queue['message']}\n")
    else:
        out("Queue: no stored job yet (a first run starts at once)\n")
