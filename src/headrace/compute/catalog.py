"""One Spark catalog per data directory, shared by every Spark server of that directory.

Every Spark server (job clusters, named clusters, the warm server) of a data directory starts
with `catalog_spark_conf(home)`: they all talk to ONE Hive metastore service and write tables
under ONE warehouse folder, so a table written by one task is read by the next task, the next
run and by several JVMs at the same time.

Why a metastore service: Spark's default Hive metastore is embedded Derby, which one JVM at a
time may open. Here one small JVM per data directory runs Hive's metastore Thrift service
(classes from pyspark's own jars; no extra package) on embedded Derby, listening on
127.0.0.1 only; Spark servers connect to it with `hive.metastore.uris`. A Python supervisor
(`python -m headrace.compute.catalog serve HOME`) owns that JVM: it records the port in
`<home>/catalog/metastore.json` and stops the JVM when no Spark server has used it for
`HEADRACE_METASTORE_IDLE_SECONDS` (default 300), when asked (`stop_metastore`), or when its
data directory disappears. This module is the clients' side (the Spark conf, starting, finding
and stopping the service); the supervisor itself is `metastore_service.py`.

Layout under the data directory:

- `catalog/`: `metastore_db/` (Derby), `conf/` (hive-site.xml, log4j2), `metastore.json`,
  `metastore.log`;
- `spark-warehouse/`: managed tables, `<schema>.db/<table>/` (Parquet unless Delta is enabled);
- `volumes/<catalog>/<schema>/<volume>/`: what `/Volumes/<catalog>/<schema>/<volume>` means
  (see `headrace.compute.volumes`), also for the metastore service.

Three-part names: the default catalog (`main`, or `HEADRACE_DEFAULT_CATALOG`) and
`hive_metastore` are names of Spark's session catalog (a 5-line plugin in
`compute/java/`, shipped as `compute/jars/headrace-spark.jar`), so `main.sales.orders`,
`sales.orders` and `spark_catalog.sales.orders` are one table, and `USE CATALOG main` works.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from headrace.errors import HeadraceError

DEFAULT_CATALOG_ENV = "HEADRACE_DEFAULT_CATALOG"
IDLE_ENV = "HEADRACE_METASTORE_IDLE_SECONDS"
DEFAULT_IDLE_SECONDS = 300.0
START_TIMEOUT_ENV = "HEADRACE_METASTORE_START_SECONDS"
# A Spark server may come up before the metastore: its client retries once a second this long.
CONNECT_RETRIES = 300
DEFAULT_START_TIMEOUT = 300.0
# Catalog names that mean the session catalog (Databricks' legacy name is hive_metastore).
ALIAS_CLASS = "io.headrace.spark.SessionCatalogAlias"
_LEGACY_CATALOG = "hive_metastore"
SAMPLES_CATALOG = "samples"
EXTENSIONS_CLASS = "io.headrace.spark.HeadraceExtensions"  # adds USE CATALOG to Spark's SQL
_JAR = Path(__file__).resolve().parent / "jars" / "headrace-spark.jar"


class CatalogError(HeadraceError):
    """The shared Spark catalog (its metastore service) could not be started."""


def catalog_dir(home: Path) -> Path:
    return Path(home) / "catalog"


def warehouse_dir(home: Path) -> Path:
    """Where managed Spark tables live (not `<home>/warehouse`, which is DuckDB's)."""
    return Path(home) / "spark-warehouse"


def default_catalog() -> str:
    """The catalog unqualified names live in: `HEADRACE_DEFAULT_CATALOG`, else `main`."""
    name = os.environ.get(DEFAULT_CATALOG_ENV, "").strip() or "main"
    if not name.replace("_", "").isalnum():
        raise CatalogError(
            f"{DEFAULT_CATALOG_ENV}={name!r}: a catalog name is letters, digits and '_'"
        )
    return name.lower()


def jar_path() -> Path:
    """Headrace's Spark plugin jar (the catalog alias and the loopback metastore)."""
    return _JAR


def catalog_spark_conf(home: Path) -> dict[str, str]:
    """The Spark conf every Spark server of data directory `home` starts with.

    Starts the data directory's metastore service if it is not running, without waiting for
    it (its port is chosen first; the server's metastore client retries for up to
    `CONNECT_RETRIES` seconds, and the first start creates the Derby schema). Keys:
    the Hive catalog and its metastore URI, the warehouse folder, the catalog aliases
    (`spark.sql.catalog.main`, ...), the `USE CATALOG` SQL extension,
    `spark.driver.extraClassPath` (Headrace's jar: join a user's own value with `os.pathsep`,
    see `merge_spark_conf`) and the `/Volumes` file system mapping
    (`headrace.compute.volumes.volumes_spark_conf`).

    Raises:
        CatalogError: Java is missing or the metastore did not start (its log's last lines).
    """
    from headrace.compute.volumes import volumes_spark_conf

    home = Path(home).expanduser().resolve()
    # The server's JVM and the metastore's start side by side: Spark connects to the
    # metastore on first catalog use, retrying while it is still starting.
    port = ensure_metastore(home, wait=False)
    warehouse = warehouse_dir(home)
    warehouse.mkdir(parents=True, exist_ok=True)
    default = default_catalog()
    conf = {
        "spark.sql.catalogImplementation": "hive",
        "spark.hadoop.hive.metastore.uris": f"thrift://127.0.0.1:{port}",
        "spark.sql.warehouse.dir": warehouse.as_uri(),
        "spark.hadoop.hive.metastore.warehouse.dir": warehouse.as_uri(),
        "spark.hadoop.hive.metastore.connect.retries": str(CONNECT_RETRIES),
        "spark.hadoop.hive.metastore.client.connect.retry.delay": "1s",
        "spark.driver.extraClassPath": str(jar_path()),
        f"spark.sql.catalog.{default}": ALIAS_CLASS,
        f"spark.sql.catalog.{_LEGACY_CATALOG}": ALIAS_CLASS,
        # Databricks' sample catalog: `samples.nyctaxi.trips` is the shared catalog's
        # `nyctaxi.trips`, which `headrace samples install` writes (SYNTHETIC, docs/samples.md).
        f"spark.sql.catalog.{SAMPLES_CATALOG}": ALIAS_CLASS,
        "spark.sql.defaultCatalog": default,
        "spark.sql.extensions": EXTENSIONS_CLASS,
        "spark.sql.sources.default": "parquet",
    }
    conf.update(volumes_spark_conf(home))
    return conf


# Keys whose values are lists: a user's value is joined to Headrace's, not replaced.
_LIST_KEYS = {
    "spark.driver.extraClassPath": os.pathsep,
    "spark.executor.extraClassPath": os.pathsep,
    "spark.jars": ",",
    "spark.sql.extensions": ",",
    "spark.connect.extensions.command.classes": ",",
}


def merge_spark_conf(base: dict[str, str], user: dict[str, str]) -> dict[str, str]:
    """`base` (Headrace's) overridden by `user` (a cluster's spark_conf); list-valued keys
    (class paths, jars, extensions) are joined so both sides' entries stay."""
    merged = dict(base)
    for key, value in user.items():
        sep = _LIST_KEYS.get(key)
        if sep and merged.get(key) and value:
            merged[key] = f"{merged[key]}{sep}{value}"
        else:
            merged[key] = value
    return merged


# --- the metastore service -------------------------------------------------------------------


def state_file(home: Path) -> Path:
    return catalog_dir(home) / "metastore.json"


def log_file(home: Path) -> Path:
    return catalog_dir(home) / "metastore.log"


@contextlib.contextmanager
def _locked(home: Path) -> Iterator[None]:
    catalog_dir(home).mkdir(parents=True, exist_ok=True)
    with open(catalog_dir(home) / "metastore.lock", "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read_state(home: Path) -> dict | None:
    try:
        state = json.loads(state_file(home).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(state, dict) or not _alive(int(state.get("pid", 0))):
        return None
    with contextlib.suppress(OSError):  # a recycled pid is not our supervisor
        if b"headrace.compute.catalog" not in Path(f"/proc/{state['pid']}/cmdline").read_bytes():
            return None
    return state


def _previous_port(home: Path) -> int:
    """The port the service had last time, if it is free (Spark servers started then still
    name it), else 0 (any free port)."""
    import socket

    try:
        port = int((catalog_dir(home) / "metastore.port").read_text())
    except (OSError, ValueError):
        return 0
    with socket.socket() as probe:
        # as Java's server socket: a port whose old connections linger in TIME_WAIT is free
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return 0
    return port


def metastore_port(home: Path) -> int | None:
    """The port of the data directory's running metastore service, or None."""
    state = _read_state(Path(home).expanduser().resolve())
    return int(state["port"]) if state and state.get("port") else None


def ensure_metastore(home: Path, *, wait: bool = True) -> int:
    """The port of `home`'s metastore service, started if not running; with `wait`, once it
    accepts connections.

    Safe from several processes at once: a file lock lets one of them start it.

    Raises:
        CatalogError: Java is missing, or (with `wait`) the service died or timed out.
    """
    home = Path(home).expanduser().resolve()
    with _locked(home):
        state = _read_state(home)
        if state and state.get("port"):
            pid, port = int(state["pid"]), int(state["port"])
        else:
            pid, port = _start(home)
    if wait:
        _wait_ready(home, pid)
    return port


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(home: Path) -> tuple[int, int]:
    """Launch the supervisor on a chosen port; (its pid, the port). Does not wait."""
    import shutil

    from headrace.compute.server import service_env

    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        raise CatalogError(
            "Java is not installed: Spark needs Java 17 (Debian: apt-get install "
            "openjdk-17-jre-headless)"
        )
    state_file(home).unlink(missing_ok=True)
    port = _previous_port(home) or _free_port()
    (catalog_dir(home) / "metastore.port").write_text(str(port))
    log = log_file(home)
    with open(log, "ab") as out:
        # `serve` forks the supervisor into its own session and returns at once with its pid
        # on stdout (after it recorded its state): it outlives whoever asked for it.
        started = subprocess.run(
            [sys.executable, "-m", "headrace.compute.catalog", "serve", str(home), str(port)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=out,
            env=service_env(),
            check=False,
        )
    try:
        pid = int(started.stdout.decode().strip())
    except ValueError:
        raise CatalogError(
            f"the Spark catalog's metastore service did not start: {_tail(log)}"
        ) from None
    return pid, port


def _wait_ready(home: Path, pid: int) -> None:
    limit = float(os.environ.get(START_TIMEOUT_ENV) or DEFAULT_START_TIMEOUT)
    deadline = time.monotonic() + limit
    log = log_file(home)
    while time.monotonic() < deadline:
        state = _read_state(home)
        if state and state.get("pid") == pid and state.get("ready", True):
            return
        if not _alive(pid):
            raise CatalogError(f"the Spark catalog's metastore service did not start: {_tail(log)}")
        time.sleep(0.2)
    raise CatalogError(
        f"the Spark catalog's metastore service was not ready after {limit:.0f} s "
        f"({START_TIMEOUT_ENV}); see {log}"
    )


def _tail(log: Path, lines: int = 3) -> str:
    try:
        text = log.read_text(errors="replace").strip().splitlines()
    except OSError:
        return f"see {log}"
    wanted = [line for line in text if "ERROR" in line or "Exception" in line] or text
    return " | ".join(wanted[-lines:]) + f" (log: {log})"


def stop_metastore(home: Path, timeout: float = 30.0) -> bool:
    """Stop `home`'s metastore service (and its JVM); False if none was running."""
    home = Path(home).expanduser().resolve()
    state = _read_state(home)
    if state is None:
        return False
    pid = int(state["pid"])
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
    return True


def _main(argv: list[str]) -> int:
    """`python -m headrace.compute.catalog serve HOME PORT`: start the supervisor. Its command
    line keeps this module's name: `_read_state` knows a live supervisor by it."""
    from headrace.compute.metastore_service import daemonize

    if len(argv) != 4 or argv[1] != "serve":
        sys.exit("usage: python -m headrace.compute.catalog serve HOME PORT")
    return daemonize(Path(argv[2]).resolve(), int(argv[3]))


if __name__ == "__main__":
    sys.exit(_main(sys.argv))
