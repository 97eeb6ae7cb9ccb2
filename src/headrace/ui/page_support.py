"""What every UI page handler shares: the Jinja2 templates, who is signed in, rendering a page
with the security headers, forms (same-site and CSRF checks), redirecting back with a signed
flash message, and engine errors shown as an error page.

The page modules (`routes.py`, `run_pages.py`, `ops_pages.py`, `builder*.py`) import these.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from headrace.api.context import ApiContext
from headrace.engine.jobs import Principal
from headrace.errors import HeadraceError, NotFound, PermissionDenied
from headrace.ui import run_views, session, views
from headrace.ui.run_cells import run_cells

TEMPLATES_DIR = Path(__file__).parent / "templates"
_env: Any = None


def templates() -> Any:
    """The Jinja2 environment, made on first use (the CLI never imports jinja2)."""
    global _env
    if _env is None:
        import jinja2

        _env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
            autoescape=True,  # every template is HTML: user text is always escaped
            trim_blocks=True,
            lstrip_blocks=True,
        )
        _env.globals.update(
            fmt_time=views.fmt_time,
            fmt_duration=views.fmt_duration,
            api_status=views.api_status,
            run_status=views.run_status,
            may=views.may,
            state_filters=run_views.STATE_FILTERS,
            run_cells=run_cells,
        )
    return _env


class Unsigned(Exception):
    """The request has no valid session: send the browser to the sign-in page."""


def api_context(request: Request) -> ApiContext:
    return request.app.state.ctx


def signed_in(request: Request) -> Principal:
    who = session.principal_of_session(request)
    if who is None:
        raise Unsigned()
    return who


def render(request: Request, name: str, status_code: int = 200, **values: Any) -> HTMLResponse:
    token = session.session_token(request)
    values.setdefault("nav", "")
    flash, flash_kind = _flash(request)
    html = (
        templates()
        .get_template(name)
        .render(
            request=request,
            csrf=session.csrf_token(token) if token else "",
            flash=flash,
            flash_kind=flash_kind,
            **values,
        )
    )
    return HTMLResponse(html, status_code=status_code, headers=SECURITY_HEADERS)


SECURITY_HEADERS = {
    "Content-Security-Policy": (
        # Inline style attributes only place timeline bars; scripts stay 'self' only.
        "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def redirect_back(
    request: Request, path: str, message: str | None = None, kind: str = "info"
) -> RedirectResponse:
    """Redirect after a form, with a message for the next page. The message is signed with
    the session, so a link made elsewhere cannot put words on this site's pages."""
    if message:
        sep = "&" if "?" in path else "?"
        signed = session.sign(request, f"{kind}:{message}")
        path = f"{path}{sep}{urlencode({'flash': message, 'kind': kind, 'sig': signed})}"
    return RedirectResponse(path, status_code=303)


def _flash(request: Request) -> tuple[str | None, str]:
    """The message a redirect carried here, if its signature holds."""
    q = request.query_params
    message, kind = q.get("flash"), q.get("kind", "info")
    if not message or not session.signed_ok(request, f"{kind}:{message}", q.get("sig")):
        return None, "info"
    return message, kind


async def _posted_form(request: Request) -> Any:
    """The posted form (a dependency: read on the event loop, so the handler can be a plain
    function that FastAPI runs in its thread pool, away from the loop).

    A form posted from another site's page is refused here, before anything else: browsers
    name the page's origin, and it must be this server (this also keeps another site from
    signing a visitor in with its own token). Raises: PermissionDenied."""
    origin = request.headers.get("origin")
    if origin is not None and origin != "null":
        from urllib.parse import urlsplit

        if urlsplit(origin).netloc != request.headers.get("host", ""):
            raise PermissionDenied(f"Forms are accepted from this site only, not from {origin}.")
    return await request.form()


PostedForm = Depends(_posted_form)


def checked_form(request: Request, form: Any) -> Any:
    """The form, after the CSRF check. Raises: PermissionDenied."""
    if not session.csrf_ok(request, form.get(session.CSRF_FIELD)):
        raise PermissionDenied("The form expired or did not come from this site; reload and retry.")
    return form


def error_page(request: Request, exc: HeadraceError) -> HTMLResponse:
    code = 404 if isinstance(exc, NotFound) else 403 if isinstance(exc, PermissionDenied) else 400
    who = session.principal_of_session(request)
    return render(request, "error.html", status_code=code, who=who, message=str(exc), code=code)


def ui_errors(handler: Any) -> Any:
    """Engine errors on a UI page render an error page (the API's JSON handler is not for people)."""
    import functools

    # Handlers are plain functions: FastAPI runs them in its thread pool, so store reads and
    # engine calls never block the event loop (forms are read by the PostedForm dependency).
    @functools.wraps(handler)
    def wrapped(request: Request, *args: Any, **kwargs: Any) -> Any:
        try:
            return handler(request, *args, **kwargs)
        except HeadraceError as exc:
            return error_page(request, exc)

    return wrapped


def safe_next(target: str | None) -> str:
    """Only a local path: never an open redirect to another site. (Browsers drop tabs and
    newlines from URLs and read a backslash as a slash, so `/\t/evil` would become `//evil`.)"""
    from urllib.parse import urlsplit

    if (
        target
        and target.startswith("/")
        and target.isprintable()
        and not any(c in target for c in " \\")
    ):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and not target.startswith("//"):
            return target
    return "/jobs"


def job_parameters(form: Any) -> dict[str, str]:
    prefix = "param."
    return {k[len(prefix) :]: str(v) for k, v in form.items() if k.startswith(prefix)}


def int_param(request: Request, name: str, minimum: int = 0) -> int | None:
    from headrace.errors import SpecError, SpecIssue

    raw = request.query_params.get(name)
    if not raw:
        return None
    if not (raw.isascii() and raw.isdigit()) or int(raw) < minimum:
        raise SpecError([SpecIssue(name, f"must be a whole number, got {raw!r}")])
    return int(raw)
