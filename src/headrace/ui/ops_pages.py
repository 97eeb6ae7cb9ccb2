"""UI pages of issue 16: a job's plan, backfills grouped by job (with a form to start one)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from headrace.errors import HeadraceError
from headrace.ui.page_support import (
    PostedForm,
    api_context,
    checked_form,
    redirect_back,
    render,
    signed_in,
    ui_errors,
)

router = APIRouter()


@router.get("/jobs/{job_id}/plan")
@ui_errors
def plan_page(request: Request, job_id: int) -> Response:
    from headrace.engine.plan_preview import preview_job
    from headrace.worker.plan_probe import environment_probe

    who = signed_in(request)
    ctx = api_context(request)
    probe = environment_probe(ctx.settings.home)
    plan = preview_job(ctx.store, who, job_id, env_probe=probe)
    return render(request, "plan.html", who=who, plan=plan, nav="jobs")


@router.get("/backfills")
@ui_errors
def backfills_page(request: Request) -> Response:
    from headrace.engine.backfill import list_progress
    from headrace.store import jobs as job_store

    who = signed_in(request)
    store = api_context(request).store
    found = list_progress(store, who)
    with store.read() as conn:
        names = job_store.job_names(conn, {b["job_id"] for b in found})
    groups: dict[int, list[dict[str, Any]]] = {}
    for b in found:
        groups.setdefault(b["job_id"], []).append(b)
    rows = [(job_id, names.get(job_id), items) for job_id, items in groups.items()]
    return render(request, "backfills.html", who=who, groups=rows, nav="backfills")


@router.get("/backfills/{backfill_id}")
@ui_errors
def backfill_page(request: Request, backfill_id: int) -> Response:
    from headrace.engine.backfill import get_progress

    who = signed_in(request)
    progress = get_progress(api_context(request).store, who, backfill_id)
    return render(request, "backfill.html", who=who, b=progress, nav="backfills")


@router.post("/jobs/{job_id}/backfill")
@ui_errors
def backfill_create(request: Request, job_id: int, form: Any = PostedForm) -> Response:
    from headrace.engine import backfill as backfills

    who = signed_in(request)
    form = checked_form(request, form)
    ctx = api_context(request)
    try:
        req = backfills.BackfillRequest(
            job_id=job_id,
            start=str(form.get("from", "")),
            end=str(form.get("to", "")),
            every=str(form.get("every", "")).strip() or None,
            max_concurrent=_int(form.get("max_concurrent"), 1),
            reverse=form.get("reverse") == "yes",
            rerun=form.get("rerun") == "yes",
        )
        created = backfills.create_backfill(ctx.store, who, req)
        backfills.pump(ctx.store, ctx.coordinator, only=created["backfill_id"])
    except HeadraceError as exc:
        return redirect_back(request, f"/jobs/{job_id}/plan", str(exc), "error")
    backfill_id = created["backfill_id"]
    return redirect_back(request, f"/backfills/{backfill_id}", f"Backfill {backfill_id} started.")


@router.post("/backfills/{backfill_id}/cancel")
@ui_errors
def backfill_cancel(request: Request, backfill_id: int, form: Any = PostedForm) -> Response:
    from headrace.engine.backfill import cancel_backfill

    who = signed_in(request)
    checked_form(request, form)
    ctx = api_context(request)
    try:
        ctx.kill(cancel_backfill(ctx.store, ctx.coordinator, who, backfill_id), "CANCELED")
    except HeadraceError as exc:
        return redirect_back(request, f"/backfills/{backfill_id}", str(exc), "error")
    return redirect_back(request, f"/backfills/{backfill_id}", "Backfill canceled.")


@router.get("/queue")
@ui_errors
def queue_page(request: Request) -> Response:
    """Attempts waiting for a worker slot, in claim order (priority, aged by waiting)."""
    from headrace.engine.actions import run_allowed
    from headrace.store import runs as run_store
    from headrace.store.queue import pending_in_claim_order

    who = signed_in(request)
    store = api_context(request).store
    with store.read() as conn:
        rows = [
            row
            for row in pending_in_claim_order(conn)
            if run_allowed(conn, who, run_store.get_run(conn, row["run_id"]), "CAN_VIEW")
        ]
    return render(request, "queue.html", who=who, rows=rows, nav="queue")


def _int(value: Any, default: int) -> int:
    from headrace.errors import SpecError, SpecIssue

    if value in (None, ""):
        return default
    try:
        return int(str(value))
    except ValueError:
        raise SpecError([SpecIssue("max_concurrent", f"must be a number, got {value!r}")]) from None
