"""A small client for a Headrace (or Databricks) server's REST API, on the standard library.

The CLI stays light (no HTTP library to import); errors come back as Headrace's own exceptions,
with the server's message.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from headrace.errors import Conflict, HeadraceError, NotFound, PermissionDenied, SpecError

TIMEOUT_SECONDS = 60


class ApiClient:
    """Calls `host` with a bearer token; JSON in, JSON out."""

    def __init__(self, host: str, token: str) -> None:
        self.host = host.rstrip("/")
        self.token = token

    @classmethod
    def from_options(cls, server: str | None, token: str | None) -> ApiClient:
        """`--server`/`--token`, else DATABRICKS_HOST / DATABRICKS_TOKEN (or HEADRACE_TOKEN)."""
        host = server or os.environ.get("DATABRICKS_HOST")
        secret = token or os.environ.get("DATABRICKS_TOKEN") or os.environ.get("HEADRACE_TOKEN")
        if not host:
            raise SpecError("--server: give the server's URL (or set DATABRICKS_HOST)")
        if urllib.parse.urlparse(host).scheme not in ("http", "https"):
            raise SpecError(f"--server: {host!r} is not an http(s) URL")
        if not secret:
            raise SpecError("--token: give an API token (or set DATABRICKS_TOKEN)")
        return cls(host, secret)

    def get(self, endpoint: str, **query: Any) -> Any:
        suffix = "?" + urllib.parse.urlencode(query) if query else ""
        return self._call("GET", endpoint + suffix, None)

    def post(self, path: str, body: dict[str, Any]) -> Any:
        return self._call("POST", path, body)

    def put(self, path: str, body: dict[str, Any]) -> Any:
        return self._call("PUT", path, body)

    def delete(self, path: str) -> Any:
        return self._call("DELETE", path, None)

    def put_bytes(self, path: str, data: bytes) -> Any:
        """PUT a file's bytes (the Files API's upload)."""
        return self._call("PUT", path, None, raw=data)

    def _call(
        self, method: str, path: str, body: dict[str, Any] | None, raw: bytes | None = None
    ) -> Any:
        data = json.dumps(body).encode() if body is not None else raw
        kind = "application/json" if raw is None else "application/octet-stream"
        request = urllib.request.Request(
            self.host + path,
            data=data,
            method=method,
            headers={
                "Authorization": f"Bearer {self.token}",
                "Content-Type": kind,
                "User-Agent": "headrace-bundle",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            raise _error(exc) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise HeadraceError(f"cannot reach {self.host}: {reason}") from None
        return json.loads(raw) if raw.strip() else {}


def _error(exc: urllib.error.HTTPError) -> HeadraceError:
    try:
        body = json.loads(exc.read() or b"{}")
    except ValueError:
        body = {}
    message = body.get("message") or f"HTTP {exc.code} {exc.reason}"
    code = body.get("error_code", "")
    if exc.code == 404 or code == "RESOURCE_DOES_NOT_EXIST":
        return NotFound(message)
    if exc.code in (401, 403):
        return PermissionDenied(message)
    if exc.code == 409:
        return Conflict(message)
    if exc.code == 400:
        return SpecError(message)
    return HeadraceError(f"{code or exc.code}: {message}")
