"""Real receivers on loopback for notification tests: an aiosmtpd SMTP server and an HTTP
server recording JSON posts (stoppable and restartable on the same port)."""

from __future__ import annotations

import email
import email.policy
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from pg_support import pg_base_url, with_search_path
from support import free_port, hr, reap

__all__ = ["hr", "reap"]


@dataclass
class Mail:
    """One message the SMTP server accepted."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    def part(self, subtype: str) -> str:
        body = self.message.get_body(preferencelist=(subtype,))
        assert body is not None, f"no text/{subtype} part in {self.message}"
        return body.get_content()


class Mailbox:
    """An aiosmtpd server on 127.0.0.1 that keeps every message it accepts; it requires SMTP
    AUTH as USER / PASSWORD (over plain text: loopback only)."""

    USER = "bot@example.com"
    PASSWORD = "pw-Zq8-never-logged"

    def __init__(self) -> None:
        self.port = free_port()
        self.mails: list[Mail] = []
        self.logins: list[str] = []
        self._cond = threading.Condition()
        self._controller: Any = None

    @property
    def url(self) -> str:
        user = self.USER.replace("@", "%40")
        return f"smtp://{user}:{self.PASSWORD}@127.0.0.1:{self.port}?from=jobs@example.com"

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> Any:
        from aiosmtpd.smtp import AuthResult, LoginPassword

        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            self.USER.encode(),
            self.PASSWORD.encode(),
        )
        if ok:
            self.logins.append(data.login.decode())
        return AuthResult(success=ok)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if not session.authenticated:
            return "530 5.7.0 Authentication required"
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._cond:
            self.mails.append(Mail(envelope.mail_from, list(envelope.rcpt_tos), parsed))  # type: ignore[arg-type]
            self._cond.notify_all()
        return "250 OK"

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        self._controller = Controller(
            self,
            hostname="127.0.0.1",
            port=self.port,
            authenticator=self._authenticate,
            auth_require_tls=False,  # AUTH over plain text: loopback only
        )
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def wait(self, count: int, timeout: float = 30) -> list[Mail]:
        """Block until `count` messages arrived; fail with what did arrive."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.mails) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    got = [m.subject for m in self.mails]
                    raise AssertionError(f"expected {count} mails in {timeout} s, got {got}")
                self._cond.wait(left)
            return list(self.mails)


@dataclass
class Post:
    """One HTTP request the receiver got."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]


class Receiver:
    """An HTTP server on 127.0.0.1 recording JSON posts; `stop()` and `start()` keep the port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.posts: list[Post] = []
        self.status = 200
        self._cond = threading.Condition()
        self._server: ThreadingHTTPServer | None = None

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                raw = self.rfile.read(length)
                with receiver._cond:
                    receiver.posts.append(Post(self.path, dict(self.headers), json.loads(raw)))
                    receiver._cond.notify_all()
                self.send_response(receiver.status)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def wait(self, count: int, timeout: float = 30) -> list[Post]:
        """Block until `count` posts arrived; fail with what did arrive."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.posts) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    got = [
                        (p.path, p.body.get("event_type") or p.body.get("text")) for p in self.posts
                    ]
                    raise AssertionError(f"expected {count} posts in {timeout} s, got {got}")
                self._cond.wait(left)
            return list(self.posts)


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox()
    box.start()
    try:
        yield box
    finally:
        box.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()
    rec.start()
    try:
        yield rec
    finally:
        rec.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL of an empty store: a SQLite file, or a fresh schema on PostgreSQL."""
    from headrace.config import database_url

    if request.param == "sqlite":
        return database_url(str(tmp_path / "headrace.db"), tmp_path)
    schema = request.getfixturevalue("pg_schema")
    return with_search_path(pg_base_url(), schema)
