"""Artifact builds find `uv` and `python` in Headrace's own environment, not only on PATH."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from headrace.bundle.artifacts import build_artifacts
from headrace.bundle.loader import load_bundle

BUNDLE = """
bundle: {name: art}
artifacts:
  tools:
    type: whl
    path: ./pkg
    build: uv --version > uv.txt && python -c "import sys; print(sys.executable)" > python.txt
"""


def test_build_commands_see_headraces_uv_and_python(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "databricks.yml").write_text(BUNDLE)
    monkeypatch.setenv("PATH", "/bin")  # neither uv nor Headrace's python on PATH
    build_artifacts(load_bundle(tmp_path, env={"DATABRICKS_USER": "a"}), lambda _text: None)
    assert (tmp_path / "pkg" / "uv.txt").read_text().startswith("uv ")
    python = Path((tmp_path / "pkg" / "python.txt").read_text().strip())
    assert python.parent == Path(sys.executable).parent
