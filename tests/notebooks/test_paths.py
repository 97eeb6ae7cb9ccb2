"""Notebook lookup: extension order, relative/absolute/workspace paths, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from headrace.notebook.paths import NotebookNotFound, resolve


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HEADRACE_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_without_extension_py_comes_before_ipynb_before_sql(tmp_path: Path, home: Path) -> None:
    for name in ("etl.sql", "etl.ipynb", "etl.py", "only.sql", "nb.ipynb"):
        (tmp_path / name).write_text("x")

    assert resolve("etl", base=tmp_path) == tmp_path / "etl.py"
    assert resolve("./nb", base=tmp_path) == tmp_path / "nb.ipynb"
    assert resolve("only", base=tmp_path) == tmp_path / "only.sql"
    assert resolve("etl.sql", base=tmp_path) == tmp_path / "etl.sql"  # exact name first
    assert resolve(str(tmp_path / "etl")) == tmp_path / "etl.py"


def test_relative_paths_start_from_the_base(tmp_path: Path, home: Path) -> None:
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "a.py").write_text("x")
    assert resolve("../lib/a", base=tmp_path / "sub") == tmp_path / "lib" / "a.py"


def test_workspace_paths(tmp_path: Path, home: Path) -> None:
    tree = home / "workspace" / "Workspace" / "Users" / "me"
    tree.mkdir(parents=True)
    (tree / "etl.py").write_text("x")

    assert resolve("/Workspace/Users/me/etl") == tree / "etl.py"
    assert resolve("/Users/me/etl") == tree / "etl.py"  # no such local path
    assert resolve("/Users/me/etl", source="WORKSPACE") == tree / "etl.py"
    with pytest.raises(NotebookNotFound, match="are not allowed in workspace paths"):
        resolve("/Workspace/Users/../../etc/passwd")


def test_errors_say_what_was_tried(tmp_path: Path, home: Path) -> None:
    (tmp_path / "model.scala").write_text("x")
    with pytest.raises(NotebookNotFound, match=r"notebook 'gone' not found .*\.py, \.ipynb, \.sql"):
        resolve("gone", base=tmp_path)
    with pytest.raises(NotebookNotFound, match="only Python"):
        resolve("model", base=tmp_path)
    with pytest.raises(NotebookNotFound, match="required"):
        resolve("")
