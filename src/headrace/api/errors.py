"""Headrace errors as Databricks error bodies: `{"error_code": ..., "message": ...}`.

The status and code are chosen so the official SDK raises its own matching exceptions; no
message may contain the phrases the SDK retries on (reference doc §0.7).
"""

from __future__ import annotations

import logging
import re
import sqlite3

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from headrace.api.body_limit import RequestTooLarge
from headrace.engine.workspace import DirectoryNotEmpty, PathExists
from headrace.errors import (
    Conflict,
    HeadraceError,
    NotFound,
    NotSupported,
    PermissionDenied,
    ResourceConflict,
    SpecError,
)

# Databricks answers an unknown job or run id on any jobs endpoint with 400, and the SDK
# turns that into ResourceDoesNotExist on GETs.
log = logging.getLogger("headrace.api")
_JOB_OR_RUN_MISSING = re.compile(r"^(Job|Run) \d+ does not exist\.$")


class Unauthenticated(HeadraceError):
    """A valid token is required."""


class MalformedRequest(HeadraceError):
    """The request body is not valid JSON."""


class ResourceMissing(NotFound):
    """No such object (always 404 RESOURCE_DOES_NOT_EXIST, whatever the message says)."""


# Messages the SDK retries on for minutes (reference doc §0.7); a message echoing user input
# must never contain one.
_RETRIED_PHRASES = (
    "Unexpected error",
    "ClusterNotReadyException",
    "Please try again later or try a faster operation.",
    "RPC token bucket limit has been exceeded",
    "does not have any associated worker environments",
    "There is no worker environment with id",
    "Unknown worker environment",
    "UnknownWorkerEnvironmentException",
)


def error_response(status: int, code: str, message: str) -> JSONResponse:
    for phrase in _RETRIED_PHRASES:
        if phrase in message:
            message = message.replace(phrase, phrase[0] + "\u200b" + phrase[1:])
    return JSONResponse({"error_code": code, "message": message}, status_code=status)


def status_and_code(exc: HeadraceError) -> tuple[int, str]:
    """The HTTP status and Databricks error_code of one of our exceptions."""
    if isinstance(exc, Unauthenticated):
        return 401, "UNAUTHENTICATED"
    if isinstance(exc, MalformedRequest):
        return 400, "MALFORMED_REQUEST"
    if isinstance(exc, RequestTooLarge):
        return 413, "INVALID_PARAMETER_VALUE"
    if isinstance(exc, PermissionDenied):
        return 403, "PERMISSION_DENIED"
    if isinstance(exc, ResourceMissing):
        return 404, "RESOURCE_DOES_NOT_EXIST"
    if isinstance(exc, NotFound):
        if _JOB_OR_RUN_MISSING.match(str(exc)):
            return 400, "INVALID_PARAMETER_VALUE"
        return 404, "RESOURCE_DOES_NOT_EXIST"
    if isinstance(exc, SpecError):
        return 400, "INVALID_PARAMETER_VALUE"
    if isinstance(exc, PathExists):
        return 409, "RESOURCE_ALREADY_EXISTS"
    if isinstance(exc, DirectoryNotEmpty):
        return 400, "DIRECTORY_NOT_EMPTY"
    if isinstance(exc, ResourceConflict):
        return 409, "RESOURCE_CONFLICT"
    if isinstance(exc, Conflict):
        return 400, "INVALID_STATE"
    if isinstance(exc, NotSupported):
        return 501, "NOT_IMPLEMENTED"
    from headrace.store.db import StoreError

    if isinstance(exc, StoreError):  # the store is broken (deleted, corrupt, disk full)
        return 500, "INTERNAL_ERROR"
    return 400, "BAD_REQUEST"


def install(app: FastAPI) -> None:
    """Map every error to Databricks' shape, once, for the whole app."""

    @app.exception_handler(HeadraceError)
    async def _ours(_request: Request, exc: HeadraceError) -> JSONResponse:
        status, code = status_and_code(exc)
        return error_response(status, code, str(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query"))
            parts.append(f"{loc}: {err.get('msg')}" if loc else str(err.get("msg")))
        return error_response(400, "INVALID_PARAMETER_VALUE", "; ".join(parts))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 404:
            return error_response(
                404, "ENDPOINT_NOT_FOUND", f"No API found for '{request.method} {request.url.path}'"
            )
        if exc.status_code == 405:
            return error_response(
                405, "METHOD_NOT_ALLOWED", f"{request.method} is not allowed on {request.url.path}"
            )
        return error_response(exc.status_code, "BAD_REQUEST", str(exc.detail))

    from sqlalchemy.exc import DatabaseError, OperationalError

    from headrace.store.health import problem

    @app.exception_handler(DatabaseError)
    @app.exception_handler(sqlite3.DatabaseError)  # a SQLite store runs on sqlite3 (issue 18)
    async def _store_broken(_request: Request, exc: Exception) -> JSONResponse:
        # A corrupt store or a full disk (issue 11): one line saying so, not a bare 500.
        broken = problem(exc)
        cause = getattr(exc, "orig", None) or exc  # the driver's words
        if broken is None and isinstance(exc, OperationalError | sqlite3.OperationalError):
            return _database_away(cause)
        log.error("the store failed while handling a request: %s", broken or cause)
        return error_response(500, "INTERNAL_ERROR", broken or f"The store failed: {cause}")

    def _database_away(cause: BaseException) -> JSONResponse:
        # The database restarted or dropped our connection (the pool reconnects on the next
        # use): nothing was committed, so the client may simply try again (the SDK does, on 503).
        log.warning("database unavailable while handling a request: %s", cause)
        response = error_response(
            503, "TEMPORARILY_UNAVAILABLE", "The database is briefly unavailable; try again."
        )
        response.headers["Retry-After"] = "1"
        return response

    @app.exception_handler(Exception)
    async def _bug(_request: Request, exc: Exception) -> JSONResponse:
        # A bug of ours: the details go to the log, not to the client (they may hold SQL,
        # parameters or server paths). Never "Unexpected error": the SDK would retry it.
        log.exception("internal error handling a request")
        return error_response(
            500, "INTERNAL_ERROR", f"Internal error ({type(exc).__name__}); see the server log"
        )
