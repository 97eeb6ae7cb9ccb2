"""What legacy clients send, made readable by every route (a pure-ASGI middleware).

- The legacy `databricks-cli` sends `Content-Type: text/json`; curl sends a form type; some
  clients send none: Databricks reads a JSON body all the same, so under `/api/` these are
  treated as `application/json` (multipart uploads and binary types are left alone).
- Airflow's async hook (deferrable operators, triggers) sends GET parameters as a JSON body:
  on GET, the fields of a JSON object body are added to the query string (a parameter given
  in the query string wins), so every GET route reads them the same way.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl, urlencode

Scope = dict[str, Any]
Message = dict[str, Any]

# Content types Databricks reads as JSON (the key is the type without its parameters).
_READ_AS_JSON = frozenset({"", "text/json", "text/plain", "application/x-www-form-urlencoded"})
# A GET body bigger than this is not read as parameters (it is passed on untouched).
MAX_GET_BODY = 1 << 20


def _content_type(headers: list[tuple[bytes, bytes]]) -> str:
    for name, value in headers:
        if name.lower() == b"content-type":
            return value.decode("latin-1").split(";")[0].strip().lower()
    return ""


def _as_json_type(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    kept = [(n, v) for n, v in headers if n.lower() != b"content-type"]
    return [*kept, (b"content-type", b"application/json")]


def _query_value(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return str(value)
    return None  # objects and null are not query parameters


def merged_query(query_string: bytes, body: bytes) -> bytes:
    """The query string with the fields of a JSON object body added (the query wins)."""
    try:
        fields = json.loads(body)
    except (ValueError, RecursionError):
        return query_string
    if not isinstance(fields, dict):
        return query_string
    pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
    present = {k for k, _ in pairs}
    for key, value in fields.items():
        if key in present:
            continue
        values = value if isinstance(value, list) else [value]
        for item in values:
            text = _query_value(item)
            if text is not None:
                pairs.append((key, text))
    return urlencode(pairs).encode("latin-1")


class LegacyClientMiddleware:
    """Content types and GET-with-body as Databricks accepts them (see the module doc)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        headers = list(scope.get("headers") or [])
        if _content_type(headers) in _READ_AS_JSON and not scope["path"].startswith(
            "/api/2.0/fs/files"  # Files API bodies are the file's bytes, whatever the type
        ):
            scope = {**scope, "headers": _as_json_type(headers)}
        if scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        body, more, messages = await _read_some(receive)
        if body.strip() and not more:
            scope = {**scope, "query_string": merged_query(scope.get("query_string", b""), body)}
        replay = list(messages)

        async def replayed() -> Message:
            if replay:
                return replay.pop(0)
            return await receive()

        await self.app(scope, replayed, send)


async def _read_some(receive: Any) -> tuple[bytes, bool, list[Message]]:
    """Up to MAX_GET_BODY bytes of the body; returns (bytes, more left, messages read)."""
    messages: list[Message] = []
    body = b""
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return body, False, messages
        body += message.get("body", b"")
        more = bool(message.get("more_body"))
        if not more or len(body) > MAX_GET_BODY:
            return body, more, messages
