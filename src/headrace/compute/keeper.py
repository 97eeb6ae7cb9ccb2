"""`python -m headrace.compute.keeper FOLDER`: starts one Spark Connect server and watches it.

Prints one line to stdout when Spark is ready (`READY`) or failed (`ERROR <Spark's message>`),
then stays to watch. It stops the JVM (SIGTERM, SIGKILL after a grace period) when asked
(SIGTERM to the keeper), when its owner process dies (a job cluster's worker), when its run has
ended (a job cluster; read from the store), or when nobody used it for `idle_seconds` (the warm
server; a named cluster's autotermination_minutes): no live task process holds a lease (a
file named by its pid in `leases/`) and Spark ran no job. If the keeper itself is killed, the kernel kills the JVM (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from headrace.compute.server import (
    READY_MARK,
    STOP_GRACE_SECONDS,
    pid_alive,
    server_argv,
    spark_error,
    write_state,
)

WATCH_SECONDS = 1.0
RUN_CHECK_SECONDS = 2.0
_PR_SET_PDEATHSIG = 1
_ERROR_LINES = 400


def _die_with_parent() -> None:
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class Keeper:
    """The watcher of one server folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.config: dict[str, Any] = json.loads((folder / "launch.json").read_text())
        self.ready = threading.Event()
        self.ended = threading.Event()
        self.stop_reason: str | None = None
        self.lines: list[str] = []
        self.state: dict[str, Any] = {}
        self._store: Any = None
        self.activity = _SparkActivity(self.config.get("ui_port"))

    # -- state --

    def _write(self, state: str, message: str = "", **extra: Any) -> None:
        self.state.update(state=state, state_message=message, **extra)
        if self.folder.is_dir():  # gone when its data directory was deleted
            write_state(self.folder, self.state)
        self._record_in_store()

    def _record_in_store(self) -> None:
        if not self.config.get("db_url") or not self.config.get("record"):
            return
        with contextlib.suppress(Exception):  # the store is a mirror here; state.json rules
            from headrace.store import spark_clusters as records

            records.update_cluster(
                self._open_store(),
                self.config["cluster_id"],
                state=self.state["state"],
                state_message=self.state.get("state_message", ""),
                pid=os.getpid(),
                terminated_time=self.state.get("terminated_time"),
            )

    def _open_store(self) -> Any:
        if self._store is None:
            from headrace.store.db import open_store

            self._store = open_store(self.config["db_url"], migrate=False)
        return self._store

    # -- the JVM --

    def start(self) -> subprocess.Popen:
        config = self.config
        # The driver's own variables (DATABRICKS_RUNTIME_VERSION), then the cluster's
        # spark_env_vars, which tasks get too and may override them.
        env = {**os.environ, **config.get("driver_env", {}), **config["env"]}
        env["SPARK_HOME"] = config["spark_home"]
        env["JAVA_HOME"] = env.get("JAVA_HOME") or str(Path(config["java"]).resolve().parents[1])
        env["SPARK_LOCAL_IP"] = "127.0.0.1"
        env.pop("PYTHONPATH", None)
        self.state = {
            "cluster_id": config["cluster_id"],
            "keeper_pid": os.getpid(),
            "port": config["port"],
            "host": config.get("host"),
            "ui_port": config["ui_port"],
            "master": config["master"],
            "spark_home": config["spark_home"],
            "conf": config["conf"],
            "env": config["env"],
            "driver_log": str(self.folder / "driver.log"),
            "start_time": int(time.time() * 1000),
        }
        self._write("PENDING", "starting Spark")
        proc = subprocess.Popen(
            server_argv(config),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=str(self.folder),
            preexec_fn=_die_with_parent,
        )
        self.state["jvm_pid"] = proc.pid
        threading.Thread(target=self._copy_output, args=(proc,), daemon=True).start()
        return proc

    def _copy_output(self, proc: subprocess.Popen) -> None:
        assert proc.stdout is not None
        with open(self.folder / "driver.log", "ab") as log:
            for raw in proc.stdout:
                log.write(raw)
                log.flush()
                if not self.ready.is_set():
                    line = raw.decode(errors="replace")
                    if len(self.lines) < _ERROR_LINES:
                        self.lines.append(line)
                    if READY_MARK in line:
                        self.ready.set()
        self.ended.set()

    # -- watching --

    def watch(self, proc: subprocess.Popen) -> int:
        limit = float(self.config["start_timeout"])
        deadline = time.monotonic() + limit
        while not self.ready.wait(0.2):
            if proc.poll() is not None:
                self.ended.wait(5)
                reason = spark_error(self.lines) or _last(self.lines) or f"exit {proc.returncode}"
                return self._failed(f"Spark failed to start: {reason}")
            if self.stop_reason is not None or time.monotonic() > deadline:
                self._stop_jvm(proc)
                if self.stop_reason is not None:
                    return self._failed(f"Spark start canceled ({self.stop_reason})")
                return self._failed(
                    f"Spark was not ready after {limit:.0f} s (HEADRACE_SPARK_START_SECONDS); "
                    f"see {self.folder / 'driver.log'}"
                )
        self.lines = []
        self._write("RUNNING", "", ready_time=int(time.time() * 1000))
        _say("READY")
        return self._loop(proc)

    def _failed(self, message: str) -> int:
        self._write("ERROR", message, terminated_time=int(time.time() * 1000))
        _say("ERROR " + message)
        return 1

    def _loop(self, proc: subprocess.Popen) -> int:
        last_run_check = 0.0
        idle_since = time.monotonic()
        while self.stop_reason is None:
            if proc.poll() is not None:
                message = f"the Spark driver exited (code {proc.returncode})"
                self._write("TERMINATED", message, terminated_time=int(time.time() * 1000))
                return 1
            owner = self.config.get("owner_pid")
            if owner and not pid_alive(owner):
                self.stop_reason = "its worker process ended"
                break
            if not (self.folder / "launch.json").exists():
                # Its data directory was deleted: no task can find this server again, so the
                # JVM would only hold memory until the idle timeout (or forever without one).
                self.stop_reason = "its folder was removed"
                break
            now = time.monotonic()
            if self.config.get("run_id") and now - last_run_check >= RUN_CHECK_SECONDS:
                last_run_check = now
                if self._run_ended():
                    self.stop_reason = "its run ended"
                    break
            idle = self.config.get("idle_seconds")
            if idle:
                if _has_users(self.folder / "leases") or self.activity.busy(now):
                    idle_since = now
                elif now - idle_since >= float(idle):
                    self.stop_reason = f"idle for {float(idle):.0f} s"
                    break
            time.sleep(WATCH_SECONDS)
        self._write("TERMINATING", f"stopping: {self.stop_reason}")
        self._stop_jvm(proc)
        self._write(
            "TERMINATED", f"stopped: {self.stop_reason}", terminated_time=int(time.time() * 1000)
        )
        return 0

    def _run_ended(self) -> bool:
        try:
            from headrace.store import spark_clusters as records

            return records.run_ended(self._open_store(), int(self.config["run_id"]))
        except Exception:  # the store unreachable for a moment: ask again later
            return False

    def _stop_jvm(self, proc: subprocess.Popen) -> None:
        if proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def request_stop(self, signum: int, frame: Any) -> None:
        self.stop_reason = self.stop_reason or "asked to stop"


class _SparkActivity:
    """Whether Spark ran a job lately, from the driver's REST API (the Spark UI port): a
    running job, or a job id not seen at the last look. Idle on Databricks means no Spark
    job; a client on another machine holds no lease, its jobs still count."""

    EVERY_SECONDS = 2.0

    def __init__(self, ui_port: int | None) -> None:
        self.base = f"http://127.0.0.1:{ui_port}/api/v1/applications" if ui_port else None
        self.last_seen: int | None = None
        self.checked = 0.0

    def busy(self, now: float) -> bool:
        if self.base is None or now - self.checked < self.EVERY_SECONDS:
            return False
        self.checked = now
        try:
            jobs = self._jobs()
        except Exception:  # UI off or not answering: leases alone decide
            return False
        newest = max((int(job.get("jobId", -1)) for job in jobs), default=-1)
        running = any(job.get("status") == "RUNNING" for job in jobs)
        changed = self.last_seen is not None and newest != self.last_seen
        self.last_seen = newest
        return running or changed

    def _jobs(self) -> list[dict[str, Any]]:
        import urllib.request

        assert self.base is not None
        with urllib.request.urlopen(self.base, timeout=2) as answer:
            apps = json.load(answer)
        if not apps:
            return []
        with urllib.request.urlopen(f"{self.base}/{apps[0]['id']}/jobs", timeout=2) as answer:
            return list(json.load(answer))


def _has_users(leases: Path) -> bool:
    """True while a process holding a lease (a file named by its pid) is alive."""
    try:
        names = os.listdir(leases)
    except FileNotFoundError:
        return False
    alive = False
    for name in names:
        if name.isdigit() and pid_alive(int(name)):
            alive = True
        else:
            with contextlib.suppress(OSError):
                os.unlink(leases / name)
    return alive


def _last(lines: list[str]) -> str | None:
    text = [line.strip() for line in lines if line.strip()]
    return text[-1] if text else None


def _say(line: str) -> None:
    with contextlib.suppress(OSError, ValueError):
        sys.stdout.write(line.replace("\n", " ") + "\n")
        sys.stdout.flush()
        sys.stdout.close()


def main(argv: list[str] | None = None) -> int:
    folder = Path((argv or sys.argv[1:])[0])
    keeper = Keeper(folder)
    signal.signal(signal.SIGTERM, keeper.request_stop)
    signal.signal(signal.SIGINT, keeper.request_stop)
    try:
        proc = keeper.start()
    except OSError as exc:
        return keeper._failed(f"cannot start Spark: {exc}")
    return keeper.watch(proc)


if __name__ == "__main__":
    sys.exit(main())
