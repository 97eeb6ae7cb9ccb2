"""Notification destination secrets (webhook URL, password...) are stored encrypted, never in
plain text in the store file, and never returned by the API (issue 11, 2.6)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from support import Server

URL = "https://hooks.example.com/services/very-secret-path-123"
PASSWORD = "webhook-password-very-secret-456"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("notify-secrets"), workers=1)
    try:
        srv.start()
        yield srv
    finally:
        srv.close()


def call(
    server: Server, token: str, method: str, path: str, body: dict | None = None
) -> httpx.Response:
    return httpx.request(
        method,
        f"{server.url}/api/2.0/notification-destinations{path}",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )


def stored_bytes(server: Server) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(server.home.glob("headrace.db*")))


def test_destination_secrets_are_encrypted_at_rest_and_never_shown(server: Server) -> None:
    root = server.token("root", admin=True)
    config = {"generic_webhook": {"url": URL, "username": "hook-user", "password": PASSWORD}}
    created = call(server, root, "POST", "", {"display_name": "hook", "config": config})
    assert created.status_code == 200, created.text
    dest_id = created.json()["id"]
    for answer in (
        created,
        call(server, root, "GET", f"/{dest_id}"),
        call(server, root, "GET", ""),
    ):
        text = answer.text
        assert URL not in text and PASSWORD not in text and "hook-user" not in text
    shown = call(server, root, "GET", f"/{dest_id}").json()["config"]["generic_webhook"]
    assert shown == {"url_set": True, "username_set": True, "password_set": True}
    data = stored_bytes(server)
    assert PASSWORD.encode() not in data and URL.encode() not in data
    # Renaming, or changing one secret, keeps the others (decrypted, merged, sealed again).
    renamed = call(server, root, "PATCH", f"/{dest_id}", {"display_name": "hook 2"})
    assert renamed.status_code == 200, renamed.text
    changed = call(
        server, root, "PATCH", f"/{dest_id}", {"config": {"generic_webhook": {"username": "u2"}}}
    )
    assert changed.status_code == 200, changed.text
    data = stored_bytes(server)
    assert PASSWORD.encode() not in data and URL.encode() not in data and b'"u2"' not in data
    key = server.home / "secrets.key"
    assert key.exists() and (key.stat().st_mode & 0o777) == 0o600
