"""Fixtures: one real `headrace server` over https (its self-signed certificate), a user's
token, and the client virtualenvs (built once, cached: see venvs.py)."""

from __future__ import annotations

import base64
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from support import Server

from .venvs import AIRFLOW, DATABRICKS_CLI, client_venv


class TlsServer(Server):
    """`headrace server --tls-self-signed`: clients trust its cert.pem."""

    def __init__(self, root: Path) -> None:
        super().__init__(root, workers=4)
        self.url = f"https://127.0.0.1:{self.port}"
        self.extra_args = ["--tls-self-signed"]
        self.cert = self.home / "tls" / "cert.pem"

    @property  # type: ignore[override]
    def verify(self) -> Any:
        """The server's own certificate (written before it listens)."""
        if not self.cert.exists():
            return False  # not listening yet: the health check fails either way
        return ssl.create_default_context(cafile=str(self.cert))

    @verify.setter
    def verify(self, _value: Any) -> None:
        pass

    def api(self, token: str) -> httpx.Client:
        """An httpx client of the API with `token`, trusting the server's certificate."""
        return httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {token}"},
            verify=ssl.create_default_context(cafile=str(self.cert)),
            timeout=30,
        )


@pytest.fixture(scope="session")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsServer]:
    srv = TlsServer(tmp_path_factory.mktemp("clients"))
    try:
        srv.start()
        yield srv
    finally:
        srv.close()


@pytest.fixture(scope="session")
def alice_token(tls_server: TlsServer) -> str:
    return tls_server.token("alice")


@pytest.fixture(scope="session")
def airflow_python() -> Path:
    return client_venv("airflow", AIRFLOW)


@pytest.fixture(scope="session")
def databricks_cli_python() -> Path:
    return client_venv("databricks-cli", DATABRICKS_CLI)


def upload(api: httpx.Client, path: str, text: str) -> None:
    """A workspace file (a source notebook when it starts with the notebook header)."""
    body: dict[str, Any] = {
        "path": path,
        "content": base64.b64encode(text.encode()).decode(),
        "overwrite": True,
    }
    if text.startswith("# Databricks notebook source"):
        body |= {"format": "SOURCE", "language": "PYTHON"}
    else:
        body |= {"format": "AUTO"}
    done = api.post("/api/2.0/workspace/mkdirs", json={"path": path.rsplit("/", 1)[0]})
    assert done.status_code == 200, done.text
    done = api.post("/api/2.0/workspace/import", json=body)
    assert done.status_code == 200, done.text
