"""The FastAPI application: routes under every Jobs API version prefix, one error mapping."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse

from headrace import __version__
from headrace.api import (
    clusters_routes,
    compat,
    dbfs_routes,
    errors,
    files_routes,
    jobs_routes,
    meta_routes,
    notifications_routes,
    ops_routes,
    permissions_routes,
    pipelines_routes,
    runs_routes,
    secrets_routes,
    tokens_routes,
    workspace_routes,
)
from headrace.api.auth import principal_of
from headrace.api.body_limit import BodyLimit, max_request_bytes
from headrace.api.context import ApiContext
from headrace.engine.jobs import Principal

# The SDK sends 2.2; older clients and docs use 2.1 and 2.0: the same handlers serve all.
API_VERSIONS = ("2.2", "2.1", "2.0")


def create_app(ctx: ApiContext) -> FastAPI:
    """The API app over the given server parts."""
    app = FastAPI(
        title="Headrace",
        version=__version__,
        description="The Databricks Jobs API 2.2, self-hosted.",
        # Served below behind a token like every API call (only /health is open).
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.state.ctx = ctx
    errors.install(app)
    app.add_middleware(compat.LegacyClientMiddleware)  # text/json, GET with a JSON body
    app.add_middleware(BodyLimit, max_bytes=max_request_bytes())  # outermost: 413 first
    app.include_router(meta_routes.router)
    for version in API_VERSIONS:
        prefix = f"/api/{version}"
        app.include_router(jobs_routes.router, prefix=prefix)
        app.include_router(runs_routes.router, prefix=prefix)
        app.include_router(ops_routes.router, prefix=prefix)  # plan, backfill (issue 16)
    # The SDK calls permissions and workspace files only under 2.0 (reference §2).
    app.include_router(permissions_routes.router, prefix="/api/2.0")
    app.include_router(workspace_routes.router, prefix="/api/2.0")
    app.include_router(notifications_routes.router, prefix="/api/2.0")
    app.include_router(dbfs_routes.router, prefix="/api/2.0")
    app.include_router(files_routes.router, prefix="/api/2.0")
    app.include_router(secrets_routes.router, prefix="/api/2.0")
    app.include_router(tokens_routes.router, prefix="/api/2.0")
    app.include_router(pipelines_routes.router, prefix="/api/2.0")  # issue 13
    for version in ("2.0", "2.1"):  # the SDK calls clusters/* under 2.1 (issue 12)
        app.include_router(clusters_routes.router, prefix=f"/api/{version}")

    from headrace.ui.routes import install as install_ui  # the web UI at `/`

    install_ui(app)
    from headrace.ui.ops_pages import router as ops_pages  # plan, backfills (issue 16)

    app.include_router(ops_pages)
    from headrace.ui.builder import router as job_builder  # YAML editor, versions (issue 17)

    app.include_router(job_builder)

    @app.get("/openapi.json", include_in_schema=False)
    def openapi(_who: Principal = Depends(principal_of)) -> Any:
        return JSONResponse(get_openapi(title=app.title, version=app.version, routes=app.routes))

    return app
