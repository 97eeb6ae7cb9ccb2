"""`headrace run` and `headrace runs repair`: drive a run locally with live progress."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from headrace.cli.boundary import run_exit_code
from headrace.cli.run_options import RunArgs, parse_params
from headrace.clock import now_ms
from headrace.config import Settings
from headrace.errors import SpecError

if TYPE_CHECKING:
    from headrace.store.db import Store


def _pick_job(jobs: list[Any], name: str | None, source: Path) -> Any:
    if name is None:
        if len(jobs) > 1:
            names = ", ".join(repr(j.name) for j in jobs)
            raise SpecError(
                f"{source} holds {len(jobs)} jobs ({names}); choose one with --job NAME"
            )
        return jobs[0]
    for job in jobs:
        if job.name == name:
            return job
    names = ", ".join(repr(j.name) for j in jobs)
    raise SpecError(f"{source} has no job named {name!r} (it has {names})")


def _store_local_job(store: Store, settings: Any, source: Path) -> int:
    """The job row for this spec file: created on first run, its settings refreshed after."""
    from headrace.engine.run_plan import settings_to_json
    from headrace.store import jobs as job_store

    data = json.loads(settings_to_json(settings))
    with store.begin() as conn:
        existing = job_store.find_local_job(conn, settings.name, str(source))
        if existing is None:
            return job_store.create_job(conn, data, now_ms=now_ms(), source=str(source))
        if existing.settings != data:
            job_store.replace_settings(conn, existing.job_id, data)
        return existing.job_id


def run_file(args: RunArgs) -> int:
    """`headrace run`: run the file's job to its end; returns the exit code of its result."""
    result, interrupted = run_job_file(
        args.file,
        params=parse_params(args.param),
        job_name=args.job,
        as_json=args.as_json,
        quiet=args.quiet,
        slots=args.slots,
        db=args.db,
    )
    return run_exit_code(result, interrupted)


def run_job_file(
    file: Path,
    *,
    params: dict[str, str],
    job_name: str | None,
    as_json: bool,
    quiet: bool,
    slots: int | None,
    db: str | None,
) -> tuple[str, bool]:
    """Run one job of a spec file to its end. Returns (run result, interrupted)."""
    from headrace.spec.loader import load_job_file

    source = file.resolve()
    warnings: list[str] = []
    settings_obj = _pick_job(load_job_file(file, warnings=warnings), job_name, file)
    for warning in warnings:  # read-only/legacy fields of a jobs/get export, left out
        print(f"warning: {file}: {warning}", file=sys.stderr)
    # The store loads only after the spec is valid: a bad spec fails without it.
    from headrace.store.db import open_store

    settings = Settings.load(db=db, slots=slots)
    store = open_store(settings.db_url)
    job_id = _store_local_job(store, settings_obj, source)
    return _drive(
        store,
        settings,
        as_json,
        quiet,
        lambda runner: runner.coordinator.start_run(settings_obj, job_id=job_id, parameters=params),
    )


def repair(
    run_id: int,
    *,
    tasks: list[str],
    all_failed: bool,
    params: dict[str, str],
    as_json: bool,
    quiet: bool,
    slots: int | None,
    db: str | None,
) -> tuple[str, bool]:
    """Repair a run locally and wait for it. Returns (run result, interrupted)."""
    from headrace.store import runs as run_store
    from headrace.store.db import open_store

    settings = Settings.load(db=db, slots=slots)
    store = open_store(settings.db_url)

    def start(runner: Any) -> int:
        with store.read() as conn:
            latest = run_store.get_run(conn, run_id).latest_repair_id
        runner.coordinator.repair_run(
            run_id,
            rerun_tasks=tasks,
            rerun_all_failed_tasks=all_failed,
            rerun_dependent_tasks=True,
            latest_repair_id=latest,
            job_parameters=params or None,
        )
        return run_id

    return _drive(store, settings, as_json, quiet, start)


def _drive(
    store: Store, settings: Settings, as_json: bool, quiet: bool, start: Any
) -> tuple[str, bool]:
    from headrace.cli.progress import Progress
    from headrace.engine.run_view import run_to_api
    from headrace.notify.local import LocalDelivery
    from headrace.worker.local import LocalRunner

    delivery = LocalDelivery(store)  # sends as rows appear; a run that notifies nobody: no-op
    with LocalRunner(store, settings) as runner:
        runner.coordinator.subscribe(delivery.on_change)
        run_id = start(runner)
        view = Progress(
            store, run_id, enabled=not quiet and not as_json, logs_dir=settings.logs_dir
        )
        with view:
            runner.drive(run_id, on_progress=view.update if view.enabled else None)
        with store.read() as conn:
            data = run_to_api(conn, run_id, now=now_ms())
    delivery.finish()  # bounded; what cannot be sent now stays queued
    if as_json:
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
    elif not quiet:
        view.summary(data)
    return data["state"].get("result_state", "FAILED"), runner.interrupts > 0
