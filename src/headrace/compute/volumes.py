"""`/Volumes/<catalog>/<schema>/<volume>/...` and `dbfs:/...` live under the data directory.

As on Databricks, a volume path is also a DBFS path (`dbfs:/Volumes/...` is `/Volumes/...`), and
DBFS's root is `<home>/dbfs/` (the folder the DBFS and Files APIs serve, `engine/files.py`):

| path | on disk |
|---|---|
| `/Volumes/c/s/v/f`, `dbfs:/Volumes/c/s/v/f`, `file:/Volumes/c/s/v/f` | `<home>/dbfs/Volumes/c/s/v/f` |
| `dbfs:/a/b` | `<home>/dbfs/a/b` |
| any other local path (`/tmp/x`) | itself |

Nothing is ever created at `/Volumes` on the machine. Who maps:

- `dbutils.fs` (`headrace.runtime.fs`), in Python: all three rows;
- Spark (readers, writers, `LOCATION`, ``csv.`/Volumes/...` ``): Hadoop's
  `ViewFileSystemOverloadScheme` serves the `file` scheme with a mount table (`default`) whose
  `/Volumes` link points into the data directory and whose fallback is the machine's `/`.
  Settings only: no symlink, mount or root. The metastore service gets the same settings (it
  creates table folders);
- Spark's `dbfs:/...` (readers, writers, `LOCATION`): the `dbfs` scheme is served by
  `io.headrace.spark.DbfsFileSystem` (Headrace's jar), which moves each path under
  `<home>/dbfs` and the paths it returns back out (a second viewfs mount table for `dbfs:`
  made Spark's committer write under `<dbfs>/<dbfs>/...`: statuses kept the local path);
- plain `open('/Volumes/...')` in task code: see `headrace.runtime.fs.install_volume_guard`.
"""

from __future__ import annotations

from pathlib import Path

VOLUMES_PREFIX = "/Volumes"


def dbfs_root(home: Path) -> Path:
    return Path(home) / "dbfs"


def volumes_root(home: Path) -> Path:
    """The folder `/Volumes` means: `<home>/dbfs/Volumes`."""
    return dbfs_root(home) / "Volumes"


def volume_path(home: Path, catalog: str, schema: str, volume: str) -> Path:
    """The folder of volume `catalog.schema.volume`."""
    for part in (catalog, schema, volume):
        if not part or "/" in part or part in (".", ".."):
            raise ValueError(f"not a valid catalog, schema or volume name: {part!r}")
    return volumes_root(home) / catalog / schema / volume


def volumes_spark_conf(home: Path) -> dict[str, str]:
    """Hadoop settings (as `spark.hadoop.*` conf) mapping `/Volumes` into `home`."""
    home = Path(home)
    volumes_root(home).mkdir(parents=True, exist_ok=True)
    volumes = volumes_root(home).as_uri()
    local = "fs.viewfs.mounttable.default"
    return {
        "spark.hadoop.fs.file.impl": "org.apache.hadoop.fs.viewfs.ViewFileSystemOverloadScheme",
        "spark.hadoop.fs.viewfs.overload.scheme.target.file.impl": (
            "org.apache.hadoop.fs.LocalFileSystem"
        ),
        f"spark.hadoop.{local}.link.{VOLUMES_PREFIX}": volumes,
        f"spark.hadoop.{local}.linkFallback": "file:///",
        # dbfs:/a/b is <home>/dbfs/a/b (Headrace's jar: io.headrace.spark.DbfsFileSystem).
        "spark.hadoop.fs.dbfs.impl": "io.headrace.spark.DbfsFileSystem",
        "spark.hadoop.fs.dbfs.headrace.root": str(dbfs_root(home)),
        "spark.hadoop.fs.dbfs.impl.disable.cache": "false",
    }


def hadoop_conf(home: Path) -> dict[str, str]:
    """The same mapping as plain Hadoop settings (for the metastore service's hive-site.xml:
    it creates table folders, so `LOCATION '/Volumes/...'` must mean the same folder there)."""
    prefix = "spark.hadoop."
    return {k[len(prefix) :]: v for k, v in volumes_spark_conf(home).items()}
