"""Which files a deploy uploads (the CLI's sync rules): sync root, .gitignore, include/exclude."""

from __future__ import annotations

import subprocess
from pathlib import Path

from headrace.bundle.sync import bundle_files, sync_root


def touch(root: Path, *names: str) -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(name)


def test_git_ignored_files_stay_home_unless_included_or_built(tmp_path: Path) -> None:
    bundle = tmp_path / "app"
    touch(
        bundle,
        "databricks.yml",
        "src/a.py",
        "src/__pycache__/a.cpython-311.pyc",
        "data/big.csv",
        "data/keep.csv",
        "dist/pkg-1.0-py3-none-any.whl",
        "notes/todo.txt",
        ".venv/bin/python",
    )
    (bundle / ".gitignore").write_text("data/\ndist/\n")
    subprocess.run(["git", "init", "-q", str(bundle)], check=True)
    sync = {"include": ["data/keep.csv"], "exclude": ["notes"]}
    names = sorted(rel for rel, _ in bundle_files(bundle, sync))
    assert names == [
        ".gitignore",
        "data/keep.csv",
        "databricks.yml",
        "dist/pkg-1.0-py3-none-any.whl",
        "src/a.py",
    ]


def test_sync_paths_widen_the_sync_root(tmp_path: Path) -> None:
    touch(tmp_path, "app/databricks.yml", "app/src/a.py", "shared/lib/__init__.py", "other/x")
    bundle = tmp_path / "app"
    assert sync_root(bundle, [".", "../shared"]) == tmp_path
    names = sorted(rel for rel, _ in bundle_files(bundle, {"paths": [".", "../shared"]}))
    assert names == ["app/databricks.yml", "app/src/a.py", "shared/lib/__init__.py"]
    assert sorted(rel for rel, _ in bundle_files(bundle, {"exclude": ["**/a.py"]})) == [
        "databricks.yml"
    ]
