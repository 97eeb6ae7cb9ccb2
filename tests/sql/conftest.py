"""SQL tests: real DuckDB files, a real PostgreSQL, and the real `headrace` CLI."""

from __future__ import annotations

from pathlib import Path

import pytest

from support import hr, reap


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A HEADRACE_HOME of the test's own, with no warehouse configured from outside."""
    folder = tmp_path / "home"
    folder.mkdir()
    monkeypatch.setenv("HEADRACE_HOME", str(folder))
    monkeypatch.delenv("HEADRACE_WAREHOUSES", raising=False)
    return folder


__all__ = ["home", "hr", "reap"]
