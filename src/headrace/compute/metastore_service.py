"""The metastore service's supervisor (`python -m headrace.compute.catalog serve HOME PORT`
runs `daemonize`): it writes the Hive configuration, runs the metastore JVM on the chosen
port, publishes its state in `<home>/catalog/metastore.json`, and stops the JVM when no Spark
server has used it for a while or its data directory is gone. See `catalog.py` for why there
is one and how clients find it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path
from xml.sax.saxutils import escape

from headrace.compute.catalog import (
    DEFAULT_IDLE_SECONDS,
    IDLE_ENV,
    catalog_dir,
    jar_path,
    log_file,
    state_file,
    warehouse_dir,
)


def _write_conf(home: Path) -> Path:
    from headrace.compute.volumes import hadoop_conf

    conf = catalog_dir(home) / "conf"
    conf.mkdir(parents=True, exist_ok=True)
    db = catalog_dir(home) / "metastore_db"
    props = {
        "javax.jdo.option.ConnectionURL": f"jdbc:derby:;databaseName={db};create=true",
        "hive.metastore.warehouse.dir": warehouse_dir(home).as_uri(),
        "datanucleus.schema.autoCreateAll": "true",
        "hive.metastore.schema.verification": "false",
        "hive.metastore.schema.verification.record.version": "false",
        "datanucleus.connectionPoolingType": "None",
        **hadoop_conf(home),  # the service creates table folders: /Volumes means the same here
    }
    body = "".join(
        f"  <property><name>{escape(k)}</name><value>{escape(v)}</value></property>\n"
        for k, v in props.items()
    )
    (conf / "hive-site.xml").write_text(f"<configuration>\n{body}</configuration>\n")
    (conf / "log4j2.properties").write_text(
        "rootLogger.level = warn\n"
        "rootLogger.appenderRef.stderr.ref = console\n"
        "appender.console.type = Console\n"
        "appender.console.name = console\n"
        "appender.console.target = SYSTEM_ERR\n"
        "appender.console.layout.type = PatternLayout\n"
        "appender.console.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n\n"
        # Derby's 'version not found' on first start is expected, not a warning for users.
        "logger.objectstore.name = org.apache.hadoop.hive.metastore.ObjectStore\n"
        "logger.objectstore.level = error\n"
        "logger.connection.name = DataNucleus.Connection\n"
        "logger.connection.level = error\n"
    )
    return conf


def _java() -> str:
    java_home = os.environ.get("JAVA_HOME")
    return str(Path(java_home) / "bin" / "java") if java_home else "java"


def _metastore_command(home: Path, port: int) -> list[str]:
    import pyspark

    jars = Path(pyspark.__file__).resolve().parent / "jars"
    conf = _write_conf(home)
    return [
        _java(),
        os.environ.get("HEADRACE_METASTORE_XMX", "-Xmx256m"),
        "-XX:+UseSerialGC",
        "-Dlog4j2.contextSelector=org.apache.logging.log4j.core.selector.ClassLoaderContextSelector",
        f"-Dlog4j.configurationFile={conf / 'log4j2.properties'}",
        f"-Dderby.stream.error.file={catalog_dir(home) / 'derby.log'}",
        f"-Dheadrace.home={home}",  # names the data directory in `ps`
        "-cp",
        os.pathsep.join([str(conf), str(jar_path()), f"{jars}/*"]),
        "io.headrace.spark.LoopbackMetastore",
        str(port),
    ]


def _connections(port: int) -> int:
    """Established TCP connections to local `port` (Linux /proc; 1 when unknown)."""
    count = 0
    found = False
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        found = True
        for line in lines:
            parts = line.split()
            if len(parts) > 3 and parts[3] == "01" and int(parts[1].rsplit(":", 1)[1], 16) == port:
                count += 1
    return count if found else 1


def _clients(uri: str) -> int:
    """Processes whose command line names the metastore URI (Spark servers launched with it)."""
    needle = uri.encode()
    count = 0
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else []:
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            if needle in (entry / "cmdline").read_bytes():
                count += 1
    return count


def _write_state(home: Path, state: dict) -> None:
    tmp = state_file(home).with_suffix(".tmp")
    tmp.write_text(json.dumps(state))
    tmp.replace(state_file(home))


def _serve(home: Path, port: int) -> int:
    """The supervisor: run the metastore JVM on `port`, publish its state, stop it when idle."""
    idle_limit = float(os.environ.get(IDLE_ENV) or DEFAULT_IDLE_SECONDS)
    state = {"pid": os.getpid(), "jvm_pid": None, "port": port, "home": str(home)}
    _write_state(home, {**state, "ready": False})
    jvm = subprocess.Popen(
        _metastore_command(home, port),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        cwd=catalog_dir(home),
    )
    stopping = False

    def _stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    assert jvm.stdout is not None
    listening = False
    for raw in jvm.stdout:
        if raw.decode(errors="replace").strip() == f"LISTENING {port}":
            listening = True
            break
    if not listening:
        state_file(home).unlink(missing_ok=True)
        return jvm.wait() or 1
    _write_state(home, {**state, "jvm_pid": jvm.pid, "ready": True})
    print(f"metastore of {home} listening on 127.0.0.1:{port} (jvm pid {jvm.pid})", flush=True)
    uri = f"thrift://127.0.0.1:{port}"
    last_used = time.monotonic()
    try:
        while not stopping and jvm.poll() is None:
            time.sleep(1.0)
            if not catalog_dir(home).is_dir():
                print("data directory removed: stopping", flush=True)
                break
            if _connections(port) or _clients(uri):
                last_used = time.monotonic()
            elif time.monotonic() - last_used > idle_limit:
                print(f"unused for {idle_limit:.0f} s: stopping", flush=True)
                break
    finally:
        with contextlib.suppress(OSError):
            if json.loads(state_file(home).read_text()).get("pid") == os.getpid():
                state_file(home).unlink()
        if jvm.poll() is None:
            jvm.terminate()
            try:
                jvm.wait(20)
            except subprocess.TimeoutExpired:
                jvm.kill()
                jvm.wait()
    return 0


def daemonize(home: Path, port: int) -> int:
    """Fork the supervisor into its own session; the parent prints its pid once the
    supervisor has recorded its state, and returns."""
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid:
        os.close(ready_w)
        os.read(ready_r, 1)  # the child closes its end after writing metastore.json
        print(pid, flush=True)
        return 0
    os.close(ready_r)
    os.setsid()
    _write_state(home, {"pid": os.getpid(), "port": port, "home": str(home), "ready": False})
    os.close(ready_w)
    log = open(log_file(home), "ab", buffering=0)  # noqa: SIM115 (the daemon's whole life)
    os.dup2(log.fileno(), 1)
    os.dup2(log.fileno(), 2)
    code = 1
    try:
        code = _serve(home, port)
    finally:
        os._exit(code)
