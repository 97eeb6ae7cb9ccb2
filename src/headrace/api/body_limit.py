"""A cap on request bodies: 413 with Databricks' error shape, before anything is parsed.

Pure ASGI (STYLE.md 15): a declared `Content-Length` over the limit is refused at once; a body
sent without one (chunked) is counted as it arrives and refused as soon as it passes the limit,
so a server never holds more than the limit of one request in memory.
"""

from __future__ import annotations

import json
import os
from typing import Any

from headrace.errors import HeadraceError
from headrace.limits import MAX_REQUEST_BODY_BYTES

ENV = "HEADRACE_MAX_REQUEST_BYTES"
# Uploads the Files API streams to disk, never holding them (Databricks takes up to 5 GiB).
STREAMED_UPLOADS = ("/api/2.0/fs/files/",)
ERROR_CODE = "INVALID_PARAMETER_VALUE"


class RequestTooLarge(HeadraceError):
    """The request body is larger than the server accepts (413)."""


def max_request_bytes() -> int:
    """The body limit: `HEADRACE_MAX_REQUEST_BYTES`, else 10 MiB.

    Raises:
        HeadraceError: the variable is not a positive integer.
    """
    raw = os.environ.get(ENV)
    if raw is None or raw.strip() == "":
        return MAX_REQUEST_BODY_BYTES
    if not raw.strip().isdigit() or int(raw) <= 0:
        raise HeadraceError(f"{ENV}={raw!r}: must be a positive number of bytes")
    return int(raw)


def too_large_message(limit: int) -> str:
    return f"The request body is larger than the limit of {limit} bytes ({ENV})."


class BodyLimit:
    """ASGI middleware refusing HTTP request bodies larger than `max_bytes`."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or (
            scope.get("method") == "PUT" and scope.get("path", "").startswith(STREAMED_UPLOADS)
        ):
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await _refuse(send, self.max_bytes)
            return
        received = 0

        async def counted() -> Any:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # Raised inside the app's read of the body: the error handlers answer 413.
                    raise RequestTooLarge(too_large_message(self.max_bytes))
            return message

        await self.app(scope, counted, send)


def _content_length(scope: Any) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _refuse(send: Any, limit: int) -> None:
    body = json.dumps({"error_code": ERROR_CODE, "message": too_large_message(limit)}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),  # the unread body is not worth draining
    ]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})
