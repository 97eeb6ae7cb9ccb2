"""`headrace bundle validate | run`: Databricks Asset Bundles, locally."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from headrace.errors import SpecError, SpecIssue


def parse_vars(values: list[str]) -> dict[str, str]:
    """`--var name=value` flags. Raises: SpecError naming the bad flag."""
    out: dict[str, str] = {}
    bad = []
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            bad.append(SpecIssue("--var", f"expected NAME=VALUE, got {item!r}"))
        elif name in out:
            bad.append(SpecIssue(f"--var {name}", "given more than once"))
        else:
            out[name.strip()] = value
    if bad:
        raise SpecError(bad)
    return out


def validate_bundle(
    path: Path | None, target: str | None, variables: dict[str, str], as_json: bool
) -> None:
    """Print the bundle's resolved jobs (or every error, raised as SpecError)."""
    from headrace.bundle.loader import load_bundle

    try:
        bundle = load_bundle(path, target=target, variables=variables)
    except SpecError as exc:
        _print_warnings(getattr(exc, "warnings", []))
        raise
    _print_warnings(bundle.warnings)
    if as_json:
        sys.stdout.write(json.dumps(_bundle_json(bundle), indent=2) + "\n")
        return
    print(f"Name:   {bundle.name}")
    print(f"Target: {bundle.target}" + (f" (mode: {bundle.mode})" if bundle.mode else ""))
    print(f"Jobs:   {len(bundle.jobs)}")
    for key, job in bundle.jobs.items():
        print(f"  {key}: {job.settings.name!r}, {len(job.settings.tasks)} tasks")
        if job.settings.run_as:
            print(f"    run as: {_principal(job.settings.run_as)}")
        for item in job.permissions:
            print(f"    permission: {item.get('level')} for {_principal(item)}")
    for kind, entries in bundle.resources.items():
        print(f"{kind.replace('_', ' ').capitalize()}: {', '.join(entries)}")
    print("Validation OK!")


def _principal(item: dict[str, Any]) -> str:
    for key in ("user_name", "group_name", "service_principal_name"):
        if item.get(key):
            return f"{key.split('_name')[0].replace('_', ' ')} {item[key]}"
    return "?"


def _bundle_json(bundle: Any, ids: dict[str, int] | None = None, host: str = "") -> dict[str, Any]:
    jobs = {}
    for key, job in bundle.jobs.items():
        entry = _job_json(job.settings)
        if job.permissions:
            entry["permissions"] = job.permissions
        if ids is not None and key in ids:
            entry["id"] = str(ids[key])
            entry["url"] = f"{host}/jobs/{ids[key]}"
        jobs[key] = entry
    return {
        "bundle": {
            "name": bundle.name,
            "target": bundle.target,
            "mode": bundle.mode,
            "git": bundle.git,
        },
        "variables": bundle.variables,
        "workspace": bundle.workspace,
        **({"run_as": bundle.run_as} if bundle.run_as else {}),
        **({"permissions": bundle.permissions} if bundle.permissions else {}),
        **({"sync": bundle.sync} if bundle.sync else {}),
        "resources": {"jobs": jobs, **bundle.resources},
        **({"warehouses": bundle.warehouses} if bundle.warehouses else {}),
    }


def summary(
    path: Path | None,
    *,
    target: str | None,
    variables: dict[str, str],
    server: str | None,
    token: str | None,
    as_json: bool,
) -> None:
    """The bundle's target and its resources; with a server, the deployed ids and URLs."""
    import os

    from headrace.bundle.loader import load_bundle

    ids: dict[str, int] | None = None
    host = ""
    if server is not None or os.environ.get("DATABRICKS_HOST"):
        from headrace.bundle.client import ApiClient
        from headrace.bundle.deploy import STATE_FILE, _read_state

        client = ApiClient.from_options(server, token)
        user = client.get("/api/2.0/preview/scim/v2/Me")["userName"]
        env = {**os.environ, "DATABRICKS_USER": user}
        bundle = load_bundle(path, target=target, variables=variables, env=env, local=False)
        state = _read_state(client, f"{bundle.workspace['state_path']}/{STATE_FILE}")
        ids = {str(k): int(v) for k, v in state.get("jobs", {}).items()}
        host = client.host
    else:
        bundle = load_bundle(path, target=target, variables=variables)
    _print_warnings(bundle.warnings)
    if as_json:
        sys.stdout.write(json.dumps(_bundle_json(bundle, ids, host), indent=2) + "\n")
        return
    print(f"Name: {bundle.name}")
    print(f"Target: {bundle.target}")
    print("Workspace:")
    if host:
        print(f"  Host: {host}")
    print(f"  User: {bundle.user}")
    print(f"  Path: {bundle.workspace['root_path']}")
    print("Resources:")
    print("  Jobs:")
    for key, job in bundle.jobs.items():
        print(f"    {key}:")
        print(f"      Name: {job.settings.name}")
        if ids is None:
            print("      URL:  (local; pass --server for the deployed job)")
        elif key in ids:
            print(f"      URL:  {host}/jobs/{ids[key]}")
        else:
            print("      URL:  (not deployed)")
    for kind, entries in bundle.resources.items():
        print(f"  {kind.replace('_', ' ').title()}:")
        for key, fields in entries.items():
            print(f"    {key}:")
            print(f"      Name: {fields.get('name', key) if isinstance(fields, dict) else key}")


def destroy(
    path: Path | None,
    *,
    target: str | None,
    variables: dict[str, str],
    server: str | None,
    token: str | None,
    auto_approve: bool,
    force_lock: bool,
) -> None:
    """Delete a deployed target's jobs and workspace folder from a server."""
    from headrace.bundle.client import ApiClient
    from headrace.bundle.destroy import destroy_bundle

    client = ApiClient.from_options(server, token)
    destroy_bundle(
        path,
        client,
        target=target,
        variables=variables,
        auto_approve=auto_approve,
        confirm=_confirm,
        say=_say,
        force_lock=force_lock,
    )
    print("Destroy complete!")


def _print_warnings(warnings: list[str]) -> None:
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)


def _job_json(settings: Any) -> Any:
    from headrace.engine.run_plan import settings_to_json

    return json.loads(settings_to_json(settings))


def run_bundle_job(
    path: Path | None,
    key: str,
    *,
    target: str | None,
    variables: dict[str, str],
    params: dict[str, str],
    as_json: bool,
    quiet: bool,
    slots: int | None,
    db: str | None,
) -> tuple[str, bool]:
    """Run one job of the bundle locally to its end. Returns (run result, interrupted).

    Every job of the bundle is stored (keyed by bundle file, target and resource key) so that
    `${resources.jobs.<key>.id}` names a real local job, as a deploy would.
    """
    from headrace.bundle.artifacts import build_artifacts
    from headrace.bundle.loader import load_bundle
    from headrace.cli.run_command import _drive, _store_local_job
    from headrace.config import Settings
    from headrace.store.db import open_store

    bundle = load_bundle(path, target=target, variables=variables)
    if key not in bundle.jobs and key in bundle.resources.get("pipelines", {}):
        return _run_bundle_pipeline(bundle, key, as_json=as_json, db=db), False
    if key not in bundle.jobs:
        runnable = [*bundle.jobs, *bundle.resources.get("pipelines", {})]
        what = "job or pipeline" if len(runnable) > len(bundle.jobs) else "job"
        known = ", ".join(runnable) or "none"
        raise SpecError(
            [SpecIssue("JOB_KEY", f"the bundle has no {what} '{key}' (it has: {known})")]
        )
    say = _say if not quiet and not as_json else lambda _text: None
    build_artifacts(bundle, say)
    settings = Settings.load(db=db, slots=slots)
    from headrace.bundle.artifact_files import place_locally

    place_locally(bundle, settings.home, say)  # where ${workspace.artifact_path}/.internal is
    from headrace.bundle.resources import create_catalog_objects

    create_catalog_objects(bundle.resources, settings.home)
    store = open_store(settings.db_url)
    sources = {k: Path(f"{bundle.root_file}#{bundle.target}/{k}") for k in bundle.jobs}
    ids: dict[str, Any] = {
        k: _store_local_job(store, job.settings, sources[k]) for k, job in bundle.jobs.items()
    }
    ids.update(_deploy_pipelines(store, bundle))
    # Now that each job has an id, references to them resolve to real jobs.
    bundle = load_bundle(path, target=target, variables=variables, resource_ids=ids)
    for k, job in bundle.jobs.items():
        _store_local_job(store, job.settings, sources[k])
    chosen = bundle.jobs[key].settings
    return _drive(
        store,
        settings,
        as_json,
        quiet,
        lambda runner: runner.coordinator.start_run(chosen, job_id=ids[key], parameters=params),
    )


def _run_bundle_pipeline(bundle: Any, key: str, *, as_json: bool, db: str | None) -> str:
    """`bundle run <pipeline key>` (as Databricks'): the bundle's pipelines stored, an update of
    this one run here, its output on stderr; "SUCCESS" or "FAILED" (with --json the update's
    UpdateInfo on stdout)."""
    from headrace.config import Settings
    from headrace.engine import pipelines
    from headrace.store.db import open_store

    settings = Settings.load(db=db)
    store = open_store(settings.db_url)
    pipeline_id = _deploy_pipelines(store, bundle)[f"pipelines.{key}"]
    update, code = pipelines.run_update_here(store, settings.home, pipeline_id, stdout=sys.stderr)
    if as_json:
        ended = pipelines.get_update(store, pipeline_id, update["update_id"])
        print(json.dumps(pipelines.public_update(ended), indent=2))
    return "SUCCESS" if code == 0 else "FAILED"


def _deploy_pipelines(store: Any, bundle: Any) -> dict[str, str]:
    """The bundle's pipelines handed to the pipelines engine; `pipelines.<key>` -> its id."""
    from headrace.bundle.resources import pipelines_engine

    deploy = pipelines_engine()
    if deploy is None:
        return {}
    return {
        f"pipelines.{key}": str(
            deploy(store, key=key, source=f"{bundle.root_file}#{bundle.target}", spec=spec)
        )
        for key, spec in bundle.resources.get("pipelines", {}).items()
    }


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _confirm(question: str) -> bool:
    if not sys.stdin.isatty():
        return False
    answer = input(f"{question} [y/N] ")
    return answer.strip().lower() in ("y", "yes")


def deploy(
    path: Path | None,
    *,
    target: str | None,
    variables: dict[str, str],
    server: str | None,
    token: str | None,
    auto_approve: bool,
    force_lock: bool = False,
) -> None:
    """Deploy the bundle's target to a server; prints each job's id."""
    from headrace.bundle.client import ApiClient
    from headrace.bundle.deploy import deploy_bundle

    client = ApiClient.from_options(server, token)
    result = deploy_bundle(
        path,
        client,
        target=target,
        variables=variables,
        auto_approve=auto_approve,
        confirm=_confirm,
        say=_say,
        force_lock=force_lock,
    )
    for warning in result.warnings:
        _say(f"warning: {warning}")
    for key, job_id in result.jobs.items():
        print(f"{key}: job {job_id} ({client.host}/jobs/{job_id})")
    for key, pipeline_id in (result.pipelines or {}).items():
        print(f"pipelines.{key}: pipeline {pipeline_id}")
    print("Deployment complete!")


def run_on_server(
    path: Path | None,
    key: str,
    *,
    target: str | None,
    variables: dict[str, str],
    params: dict[str, str],
    server: str | None,
    token: str | None,
    as_json: bool,
) -> str:
    """Start a deployed bundle job on the server and follow it to its end; its result."""
    import time

    from headrace.bundle.client import ApiClient
    from headrace.bundle.deploy import deployed_job_id
    from headrace.states import TERMINAL

    client = ApiClient.from_options(server, token)
    job_id = deployed_job_id(path, client, target=target, variables=variables, key=key)
    body: dict[str, Any] = {"job_id": job_id}
    if params:
        body["job_parameters"] = params
    run_id = client.post("/api/2.2/jobs/run-now", body)["run_id"]
    _say(f"run {run_id} of job {job_id} started: {client.host}/runs/{run_id}")
    seen: dict[str, str] = {}
    delay = 0.2
    while True:
        run = client.get("/api/2.2/jobs/runs/get", run_id=run_id)
        for task in run.get("tasks", []):
            state = task["state"].get("result_state") or task["state"]["life_cycle_state"]
            if seen.get(task["task_key"]) != state:
                seen[task["task_key"]] = state
                _say(f"{task['task_key']}: {state.lower()}")
        if run["state"]["life_cycle_state"] in {state.value for state in TERMINAL}:
            break
        time.sleep(delay)  # a remote run: the CLI follows it over HTTP
        delay = min(delay * 1.5, 2.0)
    result = run["state"].get("result_state", "FAILED")
    if as_json:
        sys.stdout.write(json.dumps(run, indent=2) + "\n")
    else:
        _say(f"run {run_id}: {result.lower()}")
    return result
