"""`/Volumes/<catalog>/<schema>/<volume>/...` and `dbfs:/...` live under the data directory.

- Python (`dbutils.fs`): `headrace.runtime.fs` maps `/Volumes/...` to
  `<home>/volumes/...` and `dbfs:/...` to `<home>/dbfs/...`.
- Spark (readers, writers, SQL `LOCATION`s, `csv.\\`/Volumes/...\\``): Hadoop's
  `ViewFileSystemOverloadScheme` is installed for the `file` scheme with a mount table whose
  `/Volumes` link points into the data directory and whose fallback is the machine's root, so
  `/Volumes/main/raw/files/a.csv` and `file:/Volumes/...` are read from
  `<home>/volumes/main/raw/files/a.csv`; every other local path is unchanged.
"""

from __future__ import annotations

from pathlib import Path

VOLUMES_PREFIX = "/Volumes"


def volumes_root(home: Path) -> Path:
    return Path(home) / "volumes"


def dbfs_root(home: Path) -> Path:
    return Path(home) / "dbfs"


def volumes_spark_conf(home: Path) -> dict[str, str]:
    """Hadoop settings (as `spark.hadoop.*` conf) that map `/Volumes` into `home`."""
    root = volumes_root(Path(home))
    root.mkdir(parents=True, exist_ok=True)
    table = "fs.viewfs.mounttable.default"
    return {
        "spark.hadoop.fs.file.impl": "org.apache.hadoop.fs.viewfs.ViewFileSystemOverloadScheme",
        "spark.hadoop.fs.viewfs.overload.scheme.target.file.impl": (
            "org.apache.hadoop.fs.LocalFileSystem"
        ),
        f"spark.hadoop.{table}.link.{VOLUMES_PREFIX}": root.as_uri(),
        f"spark.hadoop.{table}.linkFallback": "file:///",
        "spark.hadoop.fs.file.impl.disable.cache": "true",
    }
