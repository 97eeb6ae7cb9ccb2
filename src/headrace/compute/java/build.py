"""Rebuild `compute/jars/headrace-spark.jar` from the Java sources beside this file.

The jar is checked in (a fresh machine needs only a Java runtime, not a compiler); run this
after changing a `.java` file: `python src/headrace/compute/java/build.py` (needs `javac` 17
and pyspark installed). The zip entries carry a fixed date so the same sources give the same
bytes, which `tests/spark/test_catalog.py` checks when `javac` is present.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
JAR = HERE.parent / "jars" / "headrace-spark.jar"
_MANIFEST = b"Manifest-Version: 1.0\r\nCreated-By: headrace\r\n\r\n"


def build(out: Path = JAR) -> Path:
    """Compile the sources against pyspark's jars and write the jar to `out`."""
    import pyspark

    jars = Path(pyspark.__file__).parent / "jars"
    sources = sorted(str(p) for p in HERE.rglob("*.java"))
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            ["javac", "--release", "17", "-nowarn", "-cp", f"{jars}/*", "-d", tmp, *sources],
            check=True,
        )
        classes = sorted(Path(tmp).rglob("*.class"))
        out.parent.mkdir(parents=True, exist_ok=True)
        # Written beside and moved in place: a running JVM may have the old jar open.
        partial = out.with_suffix(".jar.partial")
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as jar:
            jar.writestr(zipfile.ZipInfo("META-INF/MANIFEST.MF", (1980, 1, 1, 0, 0, 0)), _MANIFEST)
            for path in classes:
                info = zipfile.ZipInfo(path.relative_to(tmp).as_posix(), (1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                jar.writestr(info, path.read_bytes())
        partial.replace(out)
    return out


if __name__ == "__main__":
    print(build(Path(sys.argv[1]) if len(sys.argv) > 1 else JAR))
