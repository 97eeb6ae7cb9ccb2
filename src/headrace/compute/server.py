"""One Spark Connect server: its launch configuration, start (with readiness), state and stop.

A server lives in its own folder (`<home>/spark/clusters/<id>/` or `<home>/spark/warm/`):
`launch.json` (what to run), `state.json` (written by its keeper), `driver.log` (Spark's
output). The JVM is started and watched by a small keeper process (`headrace.compute.keeper`)
in its own session, so it outlives the task that asked for it but never its keeper: the JVM
gets SIGKILL when the keeper dies (PR_SET_PDEATHSIG). `start_server` waits for the keeper's one
line on a pipe (READY or ERROR, with Spark's own message), not for a poll of the port.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from headrace.errors import HeadraceError

CONNECT_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"
# The Spark Connect command (compute/java JarTaskCommand) that runs a JAR task's main in the
# server's driver; a server started without it runs JAR tasks with spark-submit.
JAR_TASK_CONF = "spark.connect.extensions.command.classes"
JAR_TASK_PLUGIN = "io.headrace.spark.JarTaskCommand"
READY_MARK = "Spark Connect server started at"
START_TIMEOUT_ENV = "HEADRACE_SPARK_START_SECONDS"
DEFAULT_START_TIMEOUT = 300.0
# Where a cluster's Spark Connect port listens (a cluster's `spark_bind_host` setting wins):
# 127.0.0.1 unless a worker on another machine is to use it. See docs/spark.md (security).
BIND_HOST_ENV = "HEADRACE_SPARK_BIND_HOST"
# The host name other machines reach it by (default: the bind address; for 0.0.0.0 or ::,
# this machine's name).
ADVERTISE_HOST_ENV = "HEADRACE_SPARK_ADVERTISE_HOST"
LOOPBACK = "127.0.0.1"
DRIVER_MEMORY_ENV = "HEADRACE_SPARK_DRIVER_MEMORY"
DEFAULT_DRIVER_MEMORY = "1g"
STOP_GRACE_SECONDS = 15.0
JAVA_MISSING = (
    "Java is not installed: Spark needs Java 17 "
    "(Debian/Ubuntu: apt-get install openjdk-17-jre-headless; or set JAVA_HOME)"
)
PYSPARK_MISSING = "pyspark is not installed: pip install 'headrace[spark]'"


class ComputeError(HeadraceError):
    """A Spark cluster could not be started or reached."""


@dataclass(frozen=True)
class ClusterAddress:
    """Where a running cluster is: what task processes and spark-submit need."""

    cluster_id: str
    remote: str  # sc://HOST:PORT (HOST: 127.0.0.1 unless bound elsewhere), for SPARK_REMOTE
    master: str  # the Spark master the server runs on: local[N] or spark://..., k8s://...
    spark_home: str  # pyspark's bundled Spark (bin/spark-submit)
    ui_url: str | None
    driver_log: str
    conf: dict[str, str]  # the Spark conf the server started with (for spark-submit tasks)
    env: dict[str, str] = dataclasses.field(default_factory=dict)  # the spark_env_vars

    def task_env(self) -> dict[str, str]:
        """The environment a task process on this cluster gets (spark_env_vars included)."""
        return {
            **self.env,
            "SPARK_REMOTE": self.remote,
            "HEADRACE_SPARK_CLUSTER_ID": self.cluster_id,
            "HEADRACE_SPARK_MASTER": self.master,
            "SPARK_HOME": self.spark_home,
        }


def spark_home() -> Path:
    """pyspark's bundled Spark distribution.

    Raises:
        ComputeError: pyspark is not installed.
    """
    import importlib.util

    spec = importlib.util.find_spec("pyspark")
    if spec is None or spec.origin is None:
        raise ComputeError(PYSPARK_MISSING)
    return Path(spec.origin).resolve().parent


def java_executable() -> str:
    """The java Spark will use.

    Raises:
        ComputeError: no Java (one line saying to install Java 17).
    """
    java_home = os.environ.get("JAVA_HOME")
    if java_home and os.access(Path(java_home) / "bin" / "java", os.X_OK):
        return str(Path(java_home) / "bin" / "java")
    found = shutil.which("java")
    if found is None:
        raise ComputeError(JAVA_MISSING)
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def local_cores(spec: dict[str, Any]) -> int:
    """Local-mode threads for a cluster spec: its workers (autoscale: the maximum), at least 1,
    at most this machine's cores (a worker of a cloud cluster becomes one core here)."""
    auto = spec.get("autoscale") or {}
    wanted = auto.get("max_workers") or spec.get("num_workers") or 1
    try:
        wanted = int(wanted)
    except (TypeError, ValueError):
        wanted = 1
    return max(1, min(wanted, os.cpu_count() or 1))


def runtime_version(spec: dict[str, Any]) -> str:
    """DATABRICKS_RUNTIME_VERSION as a Databricks driver has it: `16.4` for a cluster of
    spark_version `16.4.x-scala2.12`; `client.headrace` (a serverless-style client version)
    for a cluster without one, such as the local warm server."""
    version = str(spec.get("spark_version") or "")
    match = re.match(r"(\d+\.\d+)", version)
    return match.group(1) if match else "client.headrace"


def launch_config(
    home: Path,
    cluster_id: str,
    spec: dict[str, Any],
    *,
    owner_pid: int | None = None,
    db_url: str | None = None,
    run_id: int | None = None,
    idle_seconds: float | None = None,
) -> dict[str, Any]:
    """Everything the keeper needs to start a cluster of `spec` (a Clusters API new_cluster)."""
    from headrace.compute.catalog import catalog_spark_conf, merge_spark_conf

    user_conf = {str(k): str(v) for k, v in (spec.get("spark_conf") or {}).items()}
    master = (
        user_conf.pop("spark.master", None)
        or spec.get("spark_master")  # a Headrace cluster setting: an existing Spark master
        or f"local[{local_cores(spec)}]"
    )
    port, ui_port = free_port(), free_port()
    conf = {
        "spark.driver.memory": os.environ.get(DRIVER_MEMORY_ENV) or DEFAULT_DRIVER_MEMORY,
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.ui.port": str(ui_port),
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.shuffle.partitions": "4",
        # spark_jar_task runs in this driver (headrace.worker.jar_driver, docs/spark-tasks.md).
        JAR_TASK_CONF: JAR_TASK_PLUGIN,
    }
    java = java_executable()
    conf = merge_spark_conf({**conf, **catalog_spark_conf(home)}, user_conf)
    bind = str(spec.get("spark_bind_host") or os.environ.get(BIND_HOST_ENV) or LOOPBACK)
    conf["spark.connect.grpc.binding.port"] = str(port)
    conf["spark.connect.grpc.binding.address"] = bind
    env = {str(k): str(v) for k, v in (spec.get("spark_env_vars") or {}).items()}
    # Code in the driver (JAR tasks) tells a Databricks cluster by this variable: the
    # default-scala template's getSession takes SparkSession.active when it is set. The JVM's
    # only: in a Python task process it would send databricks-sdk looking for runtime auth.
    driver_env = {"DATABRICKS_RUNTIME_VERSION": runtime_version(spec)}
    return {
        "cluster_id": cluster_id,
        "spark_home": str(spark_home()),
        "java": java,
        "master": master,
        "conf": conf,
        "env": env,
        "driver_env": driver_env,
        "port": port,
        "host": advertised_host(bind),
        "ui_port": ui_port,
        "owner_pid": owner_pid,
        "db_url": db_url,
        "run_id": run_id,
        "idle_seconds": idle_seconds,
        "start_timeout": float(os.environ.get(START_TIMEOUT_ENV) or DEFAULT_START_TIMEOUT),
    }


def advertised_host(bind: str) -> str:
    """The host in a cluster's sc:// address for a server bound to `bind`."""
    chosen = os.environ.get(ADVERTISE_HOST_ENV)
    if chosen:
        return chosen
    if bind in ("0.0.0.0", "::", ""):
        return socket.getfqdn()
    return bind


def server_argv(config: dict[str, Any]) -> list[str]:
    """spark-submit running the Spark Connect server class (what start-connect-server.sh runs,
    in the foreground)."""
    argv = [str(Path(config["spark_home"]) / "bin" / "spark-submit")]
    argv += ["--class", CONNECT_CLASS, "--name", f"headrace {config['cluster_id']}"]
    argv += ["--master", config["master"]]
    for key, value in config["conf"].items():
        argv += ["--conf", f"{key}={value}"]
    return argv


# --- state ------------------------------------------------------------------------------------


def read_state(folder: Path) -> dict[str, Any] | None:
    try:
        return json.loads((folder / "state.json").read_text())  # type: ignore[no-any-return]
    except (OSError, ValueError):
        return None


def write_state(folder: Path, state: dict[str, Any]) -> None:
    tmp = folder / "state.json.tmp"
    tmp.write_text(json.dumps(state))
    os.replace(tmp, folder / "state.json")


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours is not alive.
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return False
    return True


def running_address(folder: Path) -> ClusterAddress | None:
    """The address of the server in `folder` if its keeper says RUNNING and is alive."""
    state = read_state(folder)
    if not state or state.get("state") != "RUNNING" or not pid_alive(state.get("keeper_pid")):
        return None
    return address_of(state)


def address_of(state: dict[str, Any]) -> ClusterAddress:
    return ClusterAddress(
        cluster_id=state["cluster_id"],
        remote=f"sc://{state.get('host') or LOOPBACK}:{state['port']}",
        master=state["master"],
        spark_home=state["spark_home"],
        ui_url=f"http://127.0.0.1:{state['ui_port']}" if state.get("ui_port") else None,
        driver_log=state["driver_log"],
        conf=state.get("conf") or {},
        env=state.get("env") or {},
    )


@contextlib.contextmanager
def locked(folder: Path) -> Iterator[None]:
    """One starter/stopper of the server in `folder` at a time (across processes)."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "lock", "wb") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


# --- start and stop ----------------------------------------------------------------------------


def start_server(folder: Path, config: dict[str, Any]) -> ClusterAddress:
    """Start a keeper (and its JVM) for `config` in `folder` and wait until Spark is ready.

    The caller holds `locked(folder)`.

    Raises:
        ComputeError: Spark failed to start (its own message), or was not ready in time.
    """
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "state.json").unlink(missing_ok=True)
    (folder / "launch.json").write_text(json.dumps(config))
    keeper_log = open(folder / "keeper.log", "ab")  # noqa: SIM115 (handed to the child)
    with keeper_log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "headrace.compute.keeper", str(folder)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=keeper_log,
            env=service_env(),
            start_new_session=True,  # outlives the task or worker thread that asked
        )
    assert proc.stdout is not None
    limit = float(config["start_timeout"]) + 10.0  # the keeper enforces the real limit
    ready, _, _ = select.select([proc.stdout], [], [], limit)
    line = proc.stdout.readline().decode(errors="replace").strip() if ready else ""
    proc.stdout.close()
    if line.startswith("READY"):
        state = read_state(folder)
        if state is not None:
            return address_of(state)
    if not line:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        detail = f"the keeper ended with exit code {proc.returncode}" if ready else "no answer"
        raise ComputeError(f"Spark cluster {config['cluster_id']} did not start: {detail}")
    raise ComputeError(line.removeprefix("ERROR").strip())


_TASK_IDENTITY = ("HEADRACE_TASK_RUN_ID", "HEADRACE_WORKER_ID", "HEADRACE_RUN_ID", "SPARK_REMOTE")


def service_env() -> dict[str, str]:
    """The environment of a service that outlives the task that started it (keeper, metastore).

    A task's identity must not leak into it: recovery kills a lost attempt's processes by it.
    """
    env = {k: v for k, v in os.environ.items() if k not in _TASK_IDENTITY}
    package_root = str(Path(__file__).resolve().parents[2])
    path = env.get("PYTHONPATH")
    env["PYTHONPATH"] = package_root + (os.pathsep + path if path else "")
    return env


def stop_server(folder: Path, *, wait_seconds: float = STOP_GRACE_SECONDS + 10.0) -> bool:
    """Ask the server in `folder` to stop (SIGTERM to its keeper) and wait for it.

    True if something was running.
    """
    state = read_state(folder)
    pid = state.get("keeper_pid") if state else None
    if not pid_alive(pid):
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + wait_seconds
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if pid_alive(pid):  # a stuck keeper: its JVM dies with it (PDEATHSIG)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
    return True


def spark_error(lines: list[str]) -> str | None:
    """Spark's own one-line reason from a failed start's output: the first exception line
    (`SparkException: ...`), else the first line that is not a log line (the JVM's own)."""
    plain = []
    for line in lines:
        text = line.strip()
        if not text or _LOG_LINE.match(text) or text.startswith(_NOISE):
            continue
        plain.append(text.removeprefix('Exception in thread "main" '))
    for text in plain:
        head, sep, message = text.partition(": ")
        if sep and " " not in head and "." in head and ("Exception" in head or "Error" in head):
            return f"{head.rsplit('.', 1)[-1]}: {message}".strip()
    return plain[0] if plain else None


_LOG_LINE = re.compile(r"^\d\d/\d\d/\d\d \d\d:\d\d:\d\d ")
_NOISE = ("at ", "WARNING:", "Using Spark's", "...", "Caused by", "Error: A fatal")
