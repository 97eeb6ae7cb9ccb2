"""dbutils.fs on the real local file system, dbfs:/ under HEADRACE_HOME and fsspec URLs."""

from __future__ import annotations

from pathlib import Path

import pytest

from headrace.runtime.fs import Fs, FsError


@pytest.fixture
def fs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Fs:
    monkeypatch.setenv("HEADRACE_HOME", str(tmp_path / "home"))
    return Fs()


def test_put_head_ls_on_local_paths(fs: Fs, tmp_path: Path) -> None:
    target = tmp_path / "data" / "a.txt"
    assert fs.put(str(target), "hello world") is True
    with pytest.raises(FsError, match="already exists; pass overwrite=True"):
        fs.put(str(target), "again")
    fs.put(str(target), "hello again", overwrite=True)
    fs.mkdirs(str(tmp_path / "data" / "sub"))

    assert fs.head(str(target)) == "hello again"
    assert fs.head(f"file:{target}", maxBytes=5) == "hello"
    listed = fs.ls(str(tmp_path / "data"))
    assert [(f.name, f.size) for f in listed] == [("a.txt", 11), ("sub/", 0)]
    assert listed[0].path == str(target) and listed[1].path.endswith("/data/sub/")
    assert listed[0].modificationTime > 0


def test_cp_mv_rm_with_and_without_recurse(fs: Fs, tmp_path: Path) -> None:
    src = tmp_path / "src"
    fs.put(str(src / "one.txt"), "1")
    fs.put(str(src / "deep" / "two.txt"), "2")

    with pytest.raises(FsError, match="pass recurse=True to copy it"):
        fs.cp(str(src), str(tmp_path / "copy"))
    fs.cp(str(src), str(tmp_path / "copy"), recurse=True)
    fs.mv(str(tmp_path / "copy" / "one.txt"), str(tmp_path / "moved.txt"))

    assert (tmp_path / "copy" / "deep" / "two.txt").read_text() == "2"
    assert (tmp_path / "moved.txt").read_text() == "1"
    assert not (tmp_path / "copy" / "one.txt").exists()
    with pytest.raises(FsError, match="non-empty folder: pass recurse=True"):
        fs.rm(str(src))
    assert fs.rm(str(src), recurse=True) is True
    assert not src.exists()
    assert fs.rm(str(src)) is False


def test_dbfs_paths_live_under_the_home(fs: Fs, tmp_path: Path) -> None:
    fs.put("dbfs:/tmp/report.csv", "a,b\n")

    assert (tmp_path / "home" / "dbfs" / "tmp" / "report.csv").read_text() == "a,b\n"
    assert [f.path for f in fs.ls("dbfs:/tmp")] == ["dbfs:/tmp/report.csv"]
    with pytest.raises(FsError, match=r"'\.\.' is not allowed"):
        fs.head("dbfs:/../secrets/x")


def test_fsspec_urls_and_copies_between_file_systems(fs: Fs, tmp_path: Path) -> None:
    fs.put("memory://bucket/in.txt", "from memory")
    fs.cp("memory://bucket/in.txt", str(tmp_path / "out.txt"))

    assert (tmp_path / "out.txt").read_text() == "from memory"
    assert [f.path for f in fs.ls("memory://bucket")] == ["memory://bucket/in.txt"]
    fs.rm("memory://bucket", recurse=True)


def test_missing_paths_name_the_path(fs: Fs, tmp_path: Path) -> None:
    missing = str(tmp_path / "nope")
    with pytest.raises(FsError, match=f"No such file or directory: {missing}"):
        fs.ls(missing)
    with pytest.raises(FsError, match="No such file"):
        fs.head(missing)
    with pytest.raises(FsError, match="expected a path or URL"):
        fs.ls("")
