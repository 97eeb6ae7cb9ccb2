"""engine.workspace: the one mapping of workspace paths to files, and the tree operations."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from headrace.engine import workspace as ws
from headrace.errors import SpecError


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "workspace"


def test_both_spellings_map_to_the_same_file(root: Path) -> None:
    expected = root / "Workspace" / "Users" / "me" / "etl.py"
    assert ws.local_path(root, "/Workspace/Users/me/etl.py") == expected
    assert ws.local_path(root, "/Users/me/etl.py") == expected
    assert ws.local_path(root, "//Users//me/etl.py/") == expected
    assert ws.local_path(root, "/") == root / "Workspace"
    assert ws.local_path(root, "/Workspace") == root / "Workspace"


def test_workspace_root_follows_settings_or_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from headrace.config import Settings

    monkeypatch.setenv("HEADRACE_HOME", str(tmp_path / "h"))
    assert ws.workspace_root() == tmp_path / "h" / "workspace"
    assert (
        ws.workspace_root(Settings.load(home=str(tmp_path / "x"))) == tmp_path / "x" / "workspace"
    )


@pytest.mark.parametrize(
    "bad",
    ["", "relative/x.py", "/Users/../etc", "/Workspace/..", "/a/./b", "/a\x00b", None, 3],
)
def test_invalid_paths_are_refused(root: Path, bad: object) -> None:
    with pytest.raises(SpecError, match="path"):
        ws.local_path(root, bad)


def test_a_symlink_out_of_the_tree_is_refused(root: Path, tmp_path: Path) -> None:
    (root / "Workspace" / "Users").mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, root / "Workspace" / "Users" / "link")

    with pytest.raises(SpecError, match="outside the workspace"):
        ws.local_path(root, "/Users/link/secret.txt")


def test_resolve_notebook_tries_the_notebook_extensions(root: Path) -> None:
    folder = root / "Workspace" / "Users" / "me"
    folder.mkdir(parents=True)
    (folder / "etl.ipynb").write_text("{}")
    (folder / "report.py").write_text("# Databricks notebook source\n")
    (folder / "report.ipynb").write_text("{}")

    assert ws.resolve_notebook(root, "/Users/me/etl") == folder / "etl.ipynb"
    assert ws.resolve_notebook(root, "/Workspace/Users/me/report") == folder / "report.py"
    assert ws.resolve_notebook(root, "/Users/me/report.ipynb") == folder / "report.ipynb"
    with pytest.raises(ws.PathNotFound, match="missing"):
        ws.resolve_notebook(root, "/Users/me/missing")
    with pytest.raises(ws.PathNotFound):
        ws.resolve_notebook(root, "/Users/me/etl.py")  # an explicit extension is kept


def test_task_local_path(root: Path, tmp_path: Path) -> None:
    target = root / "Workspace" / "Users" / "me" / "etl.py"
    target.parent.mkdir(parents=True)
    target.write_text("")
    local = tmp_path / "local.py"

    assert ws.task_local_path("/Workspace/Users/me/etl.py", root=root) == str(target)
    assert ws.task_local_path("/Users/me/etl.py", source="WORKSPACE", root=root) == str(target)
    # Without /Workspace or source, /Users/... is the workspace only if no local file is there.
    assert ws.task_local_path("/Users/me/etl.py", root=root) == str(target)
    assert ws.task_local_path("/Users/me/absent.py", root=root) == "/Users/me/absent.py"
    assert ws.task_local_path(str(local), root=root) == str(local)
    assert ws.task_local_path("relative.py", root=root) == "relative.py"
    assert ws.task_local_path(None, root=root) is None
    assert ws.task_local_path("/Workspace/x.py", source="GIT", root=root) == "/Workspace/x.py"
    with pytest.raises(ValueError, match=r"'\.\.'"):
        ws.task_local_path("/Workspace/Users/../../etc/passwd", root=root)


def test_import_target_adds_notebook_extensions() -> None:
    assert ws.import_target("/Users/me/nb", "JUPYTER", None) == "/Users/me/nb.ipynb"
    assert ws.import_target("/Users/me/nb.ipynb", "JUPYTER", None) == "/Users/me/nb.ipynb"
    assert ws.import_target("/Workspace/Users/me/nb", None, "SQL") == "/Workspace/Users/me/nb.sql"
    assert ws.import_target("/Users/me/etl.py", "SOURCE", "PYTHON") == "/Users/me/etl.py"
    assert ws.import_target("/Users/me/data", "RAW", "PYTHON") == "/Users/me/data"
    assert ws.import_target("/Users/me/data", "auto", None) == "/Users/me/data"
    with pytest.raises(SpecError, match="format"):
        ws.import_target("/Users/me/a", "DBC", None)
    with pytest.raises(SpecError, match="language"):
        ws.import_target("/Users/me/a", None, "COBOL")


def test_import_list_export_delete(root: Path) -> None:
    stored = ws.import_file(
        root,
        "/Users/me/nb",
        b"# Databricks notebook source\n",
        fmt=None,
        language="PYTHON",
        overwrite=False,
    )
    assert stored == "/Users/me/nb.py"
    ws.import_file(
        root, "/Users/me/data.bin", b"\x00\x01", fmt="AUTO", language=None, overwrite=False
    )
    with pytest.raises(ws.PathExists):
        ws.import_file(root, "/Users/me/data.bin", b"", fmt=None, language=None, overwrite=False)

    listed = ws.list_objects(root, "/Users/me")
    assert [(o.path, o.object_type, o.language) for o in listed] == [
        ("/Users/me/data.bin", "FILE", None),
        ("/Users/me/nb.py", "NOTEBOOK", "PYTHON"),
    ]
    assert ws.export_file(root, "/Users/me/nb", None)[1] == b"# Databricks notebook source\n"

    # Re-importing the notebook as SQL replaces the Python file (one notebook, one name).
    ws.import_file(root, "/Users/me/nb", b"-- x", fmt="SOURCE", language="SQL", overwrite=True)
    assert [o.path for o in ws.list_objects(root, "/Users/me")] == [
        "/Users/me/data.bin",
        "/Users/me/nb.sql",
    ]
    ws.delete(root, "/Users/me/nb", recursive=False)
    with pytest.raises(ws.DirectoryNotEmpty):
        ws.delete(root, "/Users", recursive=False)
    ws.delete(root, "/Users", recursive=True)
    assert ws.list_objects(root, "/") == []


def test_half_written_uploads_are_not_listed(root: Path) -> None:
    ws.mkdirs(root, "/Shared")
    (root / "Workspace" / "Shared" / ".~headrace-abc").write_text("partial")

    assert ws.list_objects(root, "/Shared") == []
