"""A spark_jar_task in its cluster's running driver, as Databricks runs one (no JVM of its own).

The task's cluster (job or named cluster the worker acquired, else the data directory's warm
server, started if need be) is a Spark Connect server whose driver has Headrace's JAR-task
command (`io.headrace.spark.JarTaskCommand`, compute/java). This process sends that one command
over gRPC: main class, parameters, the local paths of the jars, and two files of a temporary
folder: where main's output goes (streamed from here into the task's log while it runs) and
where the driver writes the outcome (`{}` or `{"error": "java.lang...: message"}`).

No pyspark import here: the three RPCs (ExecutePlan with a `Command.extension`, Interrupt,
ReleaseSession) are written by hand, so a JAR task pays for grpc only (~0.1 s), not for the
Connect client's pandas/pyarrow (>1 s). Releasing the session drops its jars and class loader.

Cancel or timeout: the worker SIGTERMs this process, which sends Interrupt for its session (the
driver interrupts main's thread); if this process is killed outright, the driver notices that
its pid is gone within 0.5 s and interrupts main too. A main that ignores interrupts keeps
running in the driver until it returns (the JVM cannot stop a thread safely).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from headrace.compute.server import JAR_TASK_CONF, JAR_TASK_PLUGIN, ClusterAddress

TYPE_URL = "type.googleapis.com/headrace.JarTask"
_SERVICE = "/spark.connect.SparkConnectService/"
_USER = "headrace"
_CLIENT = "headrace-jar-task"
# HEADRACE_SPARK_JAR_DRIVER=submit runs every JAR task in its own JVM (spark-submit).
MODE_ENV = "HEADRACE_SPARK_JAR_DRIVER"
KEEPALIVE_SECONDS = 300.0  # see _touch


def driver_for_task(home: Path) -> tuple[ClusterAddress | None, str]:
    """The running driver a JAR task can run in, or (None, why not) for spark-submit.

    Raises:
        ComputeError: the warm server could not start (Spark's own message).
    """
    from headrace.compute.server import running_address

    if os.environ.get(MODE_ENV, "").lower() == "submit":
        return None, f"{MODE_ENV}=submit"
    cluster_id = os.environ.get("HEADRACE_SPARK_CLUSTER_ID")
    if cluster_id:
        from headrace.compute.clusters import cluster_folder

        address = running_address(cluster_folder(home, cluster_id))
        if address is None:
            return None, f"cluster {cluster_id} is not running here"
    else:
        from headrace.compute.warm import ensure_warm, take_lease

        take_lease(home)  # a user of the warm server while this task runs
        address = ensure_warm(home)
    plugins = address.conf.get(JAR_TASK_CONF, "").split(",")
    if JAR_TASK_PLUGIN not in plugins:
        return None, f"cluster {address.cluster_id} was started without the JAR-task command"
    return address, ""


def run_in_driver(
    address: ClusterAddress, main_class: str, parameters: list[str], jars: list[str]
) -> int:
    """Run `main_class.main(parameters)` in the cluster's driver; its output to stdout.

    0 when main returned; 1 with the error as the last line when it threw (or the class is
    missing, or the driver could not be reached)."""
    import grpc

    folder = Path(tempfile.mkdtemp(prefix="headrace-jar-task-"))
    output, result = folder / "output.log", folder / "result.json"
    output.touch()
    task = {
        "main_class": main_class,
        "parameters": parameters,
        "jars": [str(Path(j).resolve()) for j in jars],
        "output": str(output),
        "result": str(result),
        "owner_pid": os.getpid(),
    }
    session_id = str(uuid.uuid4())
    target = address.remote.removeprefix("sc://").split("/", 1)[0]
    channel = grpc.insecure_channel(target)
    outcome: dict[str, Any] = {}

    def execute() -> None:
        call = channel.unary_stream(_SERVICE + "ExecutePlan", _raw, _raw)
        try:
            for _ in call(_execute_request(session_id, TYPE_URL, json.dumps(task).encode())):
                pass
        except grpc.RpcError as exc:
            outcome["rpc_error"] = exc.details() or str(exc.code())

    cancelled = threading.Event()

    def on_term(signum: int, frame: object) -> None:
        cancelled.set()
        threading.Thread(target=_interrupt, args=(channel, session_id), daemon=True).start()

    previous = signal.signal(signal.SIGTERM, on_term)
    runner = threading.Thread(target=execute, name="jar-task", daemon=True)
    runner.start()
    next_touch = time.monotonic() + KEEPALIVE_SECONDS
    try:
        with open(output, "rb") as log:
            while runner.is_alive():
                runner.join(0.1)
                _copy(log)
                if time.monotonic() >= next_touch:
                    _touch(channel, session_id)
                    next_touch = time.monotonic() + KEEPALIVE_SECONDS
            _copy(log)
        return _finish(outcome, result, cancelled.is_set())
    finally:
        signal.signal(signal.SIGTERM, previous)
        with contextlib.suppress(Exception):
            release = channel.unary_unary(_SERVICE + "ReleaseSession", _raw, _raw)
            release(_release_request(session_id), timeout=10)
        channel.close()
        shutil.rmtree(folder, ignore_errors=True)


def _finish(outcome: dict[str, Any], result: Path, cancelled: bool) -> int:
    if cancelled:
        print("spark_jar_task cancelled: main was interrupted in the driver", flush=True)
        return 1
    if "rpc_error" in outcome:
        print(f"spark_jar_task failed: the driver answered: {outcome['rpc_error']}", flush=True)
        return 1
    try:
        answer = json.loads(result.read_text())
    except (OSError, ValueError):
        print("spark_jar_task failed: the driver gave no result", flush=True)
        return 1
    if answer.get("error"):
        print(f"spark_jar_task failed: {answer['error']}", flush=True)
        return 1
    return 0


def _copy(log: Any) -> None:
    chunk = log.read()
    if chunk:
        sys.stdout.buffer.write(chunk)
        sys.stdout.flush()


def _touch(channel: Any, session_id: str) -> None:
    """One cheap RPC on the session (AnalyzePlan: spark_version): Spark Connect expires a session
    last accessed longer ago than spark.connect.session.manager.defaultSessionTimeout (60 min),
    and a running command may not count as access (not verified), which would end a long main."""
    with contextlib.suppress(Exception):
        call = channel.unary_unary(_SERVICE + "AnalyzePlan", _raw, _raw)
        call(_session_fields(session_id) + _bytes_field(10, b""), timeout=30)


def _interrupt(channel: Any, session_id: str) -> None:
    with contextlib.suppress(Exception):
        call = channel.unary_unary(_SERVICE + "Interrupt", _raw, _raw)
        interrupt_all = _varint_field(4, 1)  # InterruptRequest.interrupt_type = ALL
        call(_session_fields(session_id) + interrupt_all, timeout=5)


# --- the three requests, in protobuf's wire format (field numbers of Spark Connect's base.proto)


def _raw(data: bytes) -> bytes:
    return data


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _bytes_field(number: int, data: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(data)) + data


def _varint_field(number: int, value: int) -> bytes:
    return _varint(number << 3) + _varint(value)


def _session_fields(session_id: str) -> bytes:
    """session_id (1), user_context (2: user_id 1), client_type (3 in Interrupt/Release)."""
    user = _bytes_field(1, _USER.encode())
    return _bytes_field(1, session_id.encode()) + _bytes_field(2, user)


def _execute_request(session_id: str, type_url: str, value: bytes) -> bytes:
    """ExecutePlanRequest{session_id, user_context, plan{command{extension: Any}}, client_type}."""
    any_message = _bytes_field(1, type_url.encode()) + _bytes_field(2, value)
    command = _bytes_field(999, any_message)  # Command.extension
    plan = _bytes_field(2, command)  # Plan.command
    return _session_fields(session_id) + _bytes_field(3, plan) + _bytes_field(4, _CLIENT.encode())


def _release_request(session_id: str) -> bytes:
    return _session_fields(session_id) + _bytes_field(3, _CLIENT.encode())
