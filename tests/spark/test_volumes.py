"""`/Volumes/...` and `dbfs:/...` map into the data directory: for dbutils.fs, for Spark's
readers, writers and SQL (both JVMs and the metastore service), and
plain Python file access to `/Volumes` is refused clearly.
Nothing is ever created at the machine's `/Volumes`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from headrace.runtime.fs import Fs, FsError

VOLUME = "/Volumes/main/raw/files"


@pytest.fixture
def host_volumes_untouched() -> object:
    existed = os.path.exists("/Volumes")
    yield
    if not existed:
        assert not os.path.exists("/Volumes"), "something created /Volumes on the machine"
    else:
        assert not os.path.exists("/Volumes/main/raw"), "something wrote under /Volumes/main"


def test_dbutils_fs_maps_volumes_under_the_data_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, host_volumes_untouched: object
) -> None:
    monkeypatch.setenv("HEADRACE_HOME", str(tmp_path))
    fs = Fs()
    fs.put(f"{VOLUME}/a.csv", "id,v\n1,x\n")
    on_disk = tmp_path / "dbfs" / "Volumes" / "main" / "raw" / "files" / "a.csv"
    assert on_disk.read_text() == "id,v\n1,x\n"
    assert fs.head(f"file:{VOLUME}/a.csv") == "id,v\n1,x\n"
    assert fs.head(f"dbfs:{VOLUME}/a.csv") == "id,v\n1,x\n"  # dbfs:/Volumes is /Volumes
    [info] = fs.ls(VOLUME)
    assert (info.path, info.name, info.size) == (f"{VOLUME}/a.csv", "a.csv", 9)
    fs.cp(f"{VOLUME}/a.csv", "dbfs:/tmp/b.csv")
    assert (tmp_path / "dbfs" / "tmp" / "b.csv").exists()
    with pytest.raises(FsError, match=r"'\.\.' is not allowed"):
        fs.ls("/Volumes/main/../../etc")


def test_plain_open_of_a_volume_path_is_refused_with_the_folder_to_use(
    tmp_path: Path, host_volumes_untouched: object
) -> None:
    code = (
        "import os\n"
        "from headrace.runtime.fs import install_volume_guard\n"
        "install_volume_guard()\n"
        "for attempt in (lambda: open('/Volumes/main/raw/files/x.csv', 'w'),\n"
        "                lambda: os.makedirs('/Volumes/main/raw/files/d'),\n"
        "                lambda: os.listdir('/Volumes/main')):\n"
        "    try:\n"
        "        attempt()\n"
        "    except PermissionError as e:\n"
        "        print(e)\n"
        "open(os.path.join(os.environ['HEADRACE_HOME'], 'ok.txt'), 'w').close()\n"
    )
    env = {**os.environ, "HEADRACE_HOME": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    lines = out.stdout.splitlines()
    assert len(lines) == 3, out.stdout + out.stderr
    mapped = tmp_path / "dbfs" / "Volumes" / "main" / "raw" / "files" / "x.csv"
    assert lines[0] == (
        "/Volumes/main/raw/files/x.csv: volumes are not mounted on this machine; use "
        f"dbutils.fs or Spark with this path, or the local file {mapped}"
    )
    assert (tmp_path / "ok.txt").exists()  # other paths are untouched


@pytest.mark.spark
def test_spark_reads_and_writes_volumes_in_the_data_directory(
    catalog_env, host_volumes_untouched: object
) -> None:
    home = catalog_env.home
    root = home / "dbfs" / "Volumes" / "main" / "raw" / "files"
    root.mkdir(parents=True, exist_ok=True)
    (root / "in.csv").write_text("id,v\n1,x\n2,y\n3,z\n")
    spark = catalog_env.a.session()

    frame = spark.read.option("header", True).csv(f"{VOLUME}/in.csv")
    assert frame.count() == 3
    frame.write.mode("overwrite").parquet(f"{VOLUME}/out")
    assert any(p.suffix == ".parquet" for p in (root / "out").iterdir())
    # SQL paths and the other JVM map the same way.
    other = catalog_env.b.session()
    assert other.sql(f"SELECT count(*) AS n FROM parquet.`{VOLUME}/out`").collect()[0].n == 3
    assert other.read.parquet(f"file:{VOLUME}/out").count() == 3
    other.sql(
        f"CREATE TABLE IF NOT EXISTS main.default.from_volume USING parquet LOCATION '{VOLUME}/out'"
    )
    assert spark.table("main.default.from_volume").count() == 3

    # Other local paths are the machine's own.
    plain = home / "plain"
    spark.range(2).write.mode("overwrite").parquet(str(plain))
    assert any(p.suffix == ".parquet" for p in plain.iterdir())


@pytest.mark.spark
def test_spark_dbfs_paths_live_under_the_data_directory_dbfs_folder(catalog_env) -> None:
    home = catalog_env.home
    dbfs = home / "dbfs"
    (dbfs / "landing").mkdir(parents=True, exist_ok=True)
    (dbfs / "landing" / "in.csv").write_text("id,v\n1,x\n2,y\n")
    spark = catalog_env.a.session()

    frame = spark.read.option("header", True).csv("dbfs:/landing/in.csv")
    assert frame.count() == 2
    frame.write.mode("overwrite").parquet("dbfs:/out/copy")  # the committer renames inside
    written = list((dbfs / "out" / "copy").iterdir())
    assert any(p.suffix == ".parquet" for p in written), written
    assert (dbfs / "out" / "copy" / "_SUCCESS").exists()
    assert not (dbfs / str(dbfs).lstrip("/")).exists()  # never <dbfs>/<dbfs>/...
    # The other JVM, SQL paths, dbfs:/Volumes (= /Volumes) and a table LOCATION agree.
    other = catalog_env.b.session()
    assert other.sql("SELECT count(*) AS n FROM parquet.`dbfs:/out/copy`").collect()[0].n == 2
    other.range(3).write.mode("overwrite").parquet(f"dbfs:{VOLUME}/from_dbfs")
    assert spark.read.parquet(f"{VOLUME}/from_dbfs").count() == 3
    other.sql(
        "CREATE TABLE IF NOT EXISTS main.default.from_dbfs USING parquet LOCATION 'dbfs:/out/copy'"
    )
    assert spark.table("main.default.from_dbfs").count() == 2
    assert [r.path for r in spark.read.format("binaryFile").load("dbfs:/landing").collect()] == [
        "dbfs:/landing/in.csv"
    ]


def test_task_code_gets_the_guard_from_the_task_hook(
    tmp_path: Path, host_volumes_untouched: object
) -> None:
    """A Spark-capable task (here a spark_python_task that never starts Spark) runs with
    Headrace's hook: its plain open() of a volume path fails with the folder to use."""
    from support import Headrace

    hr = Headrace(tmp_path)
    hr.write("touch.py", "open('/Volumes/main/raw/files/x.txt', 'w').write('x')\n")
    job = hr.write(
        "job.yml",
        """
        name: guard
        tasks:
          - task_key: touch
            spark_python_task: {python_file: touch.py}
        """,
    )
    result = hr("run", job, "--json", timeout=300)
    [task] = result.json()["tasks"]
    assert task["state"]["result_state"] == "FAILED", result
    message = task["state"]["state_message"]
    assert "/Volumes/main/raw/files/x.txt: volumes are not mounted on this machine" in message
    assert str(hr.home / "dbfs" / "Volumes" / "main" / "raw" / "files" / "x.txt") in message
