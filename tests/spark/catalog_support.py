"""Spark Connect servers started with a data directory's catalog conf, for the catalog tests.

Each server is its own JVM (`spark-submit` running the Spark Connect server class, in the
foreground, in its own process group) so two of them prove the catalog is shared across JVMs.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CONNECT_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"
START_SECONDS = 400.0  # two cores shared by many JVMs: a start can take minutes


def pyspark_home() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("pyspark")
    assert spec is not None and spec.origin is not None
    return Path(spec.origin).resolve().parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ConnectServer:
    name: str
    home: Path
    port: int
    proc: subprocess.Popen[bytes]
    log: Path
    sessions: list[Any] = field(default_factory=list)

    @property
    def remote(self) -> str:
        return f"sc://127.0.0.1:{self.port}"

    def wait_ready(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.log.read_text()[-3000:]}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=1),
            ):
                return
            time.sleep(0.5)
        raise RuntimeError(f"{self.name} not ready: {self.log.read_text()[-3000:]}")

    def session(self) -> Any:
        """A new Spark Connect client session on this server."""
        with warnings.catch_warnings():
            # pyspark's own import-time warning about pandas 3 (tests turn warnings to errors)
            warnings.filterwarnings("ignore", message="PySpark does not yet fully support")
            from pyspark.sql import SparkSession

            spark = SparkSession.builder.remote(self.remote).create()
        self.sessions.append(spark)
        return spark

    def stop(self) -> None:
        for spark in self.sessions:
            with contextlib.suppress(Exception):
                spark.stop()
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)


def start_connect_server(name: str, home: Path, conf: dict[str, str]) -> ConnectServer:
    """Launch (do not wait for) a Spark Connect server JVM with `conf`."""
    port = free_port()
    spark_home = pyspark_home()
    argv = [str(spark_home / "bin" / "spark-submit"), "--class", CONNECT_CLASS]
    argv += ["--name", f"headrace-test {name}", "--master", "local[1]"]
    settings = {
        **conf,
        "spark.driver.memory": "512m",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.shuffle.partitions": "2",
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.connect.grpc.binding.address": "127.0.0.1",
        "spark.connect.grpc.binding.port": str(port),
    }
    for key, value in settings.items():
        argv += ["--conf", f"{key}={value}"]
    log = home / f"{name}.log"
    env = {**os.environ, "SPARK_HOME": str(spark_home)}
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    return ConnectServer(name, home, port, proc, log)


def our_jvms(home: Path) -> list[str]:
    """Command lines of live processes that name `home` (servers and the metastore)."""
    found = []
    needle = str(home).encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            cmdline = (entry / "cmdline").read_bytes()
            if needle in cmdline and b"java" in cmdline:
                found.append(cmdline.replace(b"\0", b" ").decode(errors="replace")[:200])
    return found
