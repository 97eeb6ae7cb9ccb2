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
        doc = {
            "bundle": {"name": bundle.name, "target": bundle.target, "mode": bundle.mode},
            "variables": bundle.variables,
            "workspace": bundle.workspace,
            "resources": {
                "jobs": {key: _job_json(job.settings) for key, job in bundle.jobs.items()}
            },
        }
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        return
    print(f"Name:   {bundle.name}")
    print(f"Target: {bundle.target}" + (f" (mode: {bundle.mode})" if bundle.mode else ""))
    print(f"Jobs:   {len(bundle.jobs)}")
    for key, job in bundle.jobs.items():
        print(f"  {key}: {job.settings.name!r}, {len(job.settings.tasks)} tasks")
    print("Validation OK!")


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
    if key not in bundle.jobs:
        known = ", ".join(bundle.jobs) or "none"
        raise SpecError([SpecIssue("JOB_KEY", f"the bundle has no job '{key}' (it has: {known})")])
    build_artifacts(bundle, _say if not quiet and not as_json else lambda _text: None)
    settings = Settings.load(db=db, slots=slots)
    store = open_store(settings.db_url)
    sources = {k: Path(f"{bundle.root_file}#{bundle.target}/{k}") for k in bundle.jobs}
    ids = {k: _store_local_job(store, job.settings, sources[k]) for k, job in bundle.jobs.items()}
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
    )
    for key, job_id in result.jobs.items():
        print(f"{key}: job {job_id} ({client.host}/jobs/{job_id})")
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
