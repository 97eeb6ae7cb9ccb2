"""The API's one error mapping, on a bare app: what a client sees for each kind of failure."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI
from sqlalchemy.exc import OperationalError

from headrace.api import errors
from headrace.errors import NotFound


def app() -> FastAPI:
    app = FastAPI()
    errors.install(app)

    @app.get("/database-gone")
    def database_gone() -> None:
        raise OperationalError("SELECT 1", {}, Exception("server closed the connection"))

    @app.get("/missing")
    def missing() -> None:
        raise NotFound("Job 7 does not exist.")

    @app.get("/bug")
    def bug() -> None:
        raise KeyError("secret-ish detail")

    return app


def get(path: str) -> httpx.Response:
    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app(), raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.get(path)

    return asyncio.run(call())


def test_a_lost_database_connection_is_a_retryable_503() -> None:
    response = get("/database-gone")
    assert response.status_code == 503
    assert response.json()["error_code"] == "TEMPORARILY_UNAVAILABLE"
    assert response.headers["Retry-After"] == "1"  # the SDK waits this long and retries
    assert "SELECT" not in response.text


def test_our_errors_and_bugs_keep_their_mapping() -> None:
    status, code = errors.status_and_code(NotFound("Job 7 does not exist."))
    missing = get("/missing")
    assert (missing.status_code, missing.json()["error_code"]) == (status, code)
    bug = get("/bug")
    assert bug.status_code == 500 and "secret-ish" not in bug.text
