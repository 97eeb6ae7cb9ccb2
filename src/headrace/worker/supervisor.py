"""Supervising one attempt: its own process group and log file, timeouts, kills, outcome."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from headrace.engine.coordinator import AttemptOutcome
from headrace.errors import HeadraceError
from headrace.limits import MAX_OUTPUT_BYTES, MAX_TASK_VALUE_BYTES
from headrace.runtime.secrets import Redactor
from headrace.states import Result
from headrace.store.attempts import LogPaths
from headrace.store.records import Attempt
from headrace.worker.disk import with_full_disk
from headrace.worker.file_versions import keep_versions
from headrace.worker.log_pipe import redactor_for
from headrace.worker.process_watch import watch_process
from headrace.worker.task_env import task_environment
from headrace.worker.tasks import TaskCommand, command_builder

log = logging.getLogger("headrace.worker")
KILL_GRACE_SECONDS = 3.0
SHUTDOWN = "SHUTDOWN"  # kill reason when the worker stops: the attempt failed, not canceled
# The key of the attempt's output holding its wall-clock marks (epoch ms): prepared (files
# written), environment (Python environment ready), cluster (Spark attached), spawned
# (process started), exited (process ended).
TIMING_KEY = "headrace_timing"
# How long an attempt runs before its pid is written to the store: quick tasks skip the write.
PID_RECORD_AFTER = 0.2
_TAIL_BYTES = 64 * 1024


class KillSwitch:
    """Stops one attempt from another thread; the first reason given becomes its result."""

    def __init__(self) -> None:
        self.reason: str | None = None
        self._lock = threading.Lock()
        self._pid: int | None = None

    def attach(self, pid: int) -> None:
        """Bind the switch to the started process group (stops it now if already pulled)."""
        with self._lock:
            self._pid = pid
            pulled = self.reason is not None
        if pulled:
            _stop_group(pid, force=False)

    def pull(self, reason: str, *, force: bool = False) -> None:
        """SIGTERM the attempt's process group now (SIGKILL if `force`), SIGKILL it later."""
        with self._lock:
            if self.reason is None:
                self.reason = reason
            pid = self._pid
        if pid is not None:
            _stop_group(pid, force=force)


def _stop_group(pid: int, *, force: bool) -> None:
    _signal_group(pid, signal.SIGKILL if force else signal.SIGTERM)
    timer = threading.Timer(KILL_GRACE_SECONDS, _signal_group, (pid, signal.SIGKILL))
    timer.daemon = True
    timer.start()


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def attempt_dir(logs_dir: Path, attempt: Attempt) -> Path:
    """The folder of an attempt's log, context and task values (the rule a claim on
    PostgreSQL also computes in SQL: store.attempts.LogPaths)."""
    return Path(_log_paths(logs_dir).folder(attempt))


@functools.lru_cache(maxsize=16)
def _log_paths(logs_dir: Path) -> LogPaths:
    return LogPaths(logs_dir)  # a worker has one logs folder: made once, not per attempt


def log_path_for(logs_dir: Path, attempt: Attempt) -> Path:
    return attempt_dir(logs_dir, attempt) / "output.log"


def run_attempt(
    attempt: Attempt,
    logs_dir: Path,
    kill: KillSwitch,
    record_pid: Callable[[int], None],
    store: Any = None,
) -> AttemptOutcome:
    """Run an attempt's process to its end and say how it ended (`store`: for its cluster)."""
    payload = attempt.payload
    # The attempt's paths are strings: a pathlib join per file was a measurable share of an
    # attempt's supervision (issue 18). They are what `attempt_dir` spells.
    folder = _log_paths(logs_dir).folder(attempt)
    _make_attempt_dir(logs_dir, folder)
    home = logs_dir.parent
    log_path = folder + "/output.log"
    try:
        command = command_builder(payload["task_type"])(payload["settings"])
    except (KeyError, ValueError, ImportError) as exc:
        Path(log_path).write_text(f"cannot start task: {exc}\n")
        return AttemptOutcome(Result.FAILED, error=f"cannot start task: {exc}")
    keep_versions(payload["settings"], home, folder)  # for `runs replay`
    context_path = folder + "/context.json"
    values_path = folder + "/task_values.json"
    output_path = folder + "/output.json"
    context = {
        k: payload[k]
        for k in (
            "run_id",
            "job_id",
            "task_key",
            "task_run_id",
            "attempt_number",
            "parameters",
            "task_values",
        )
    }
    _write_bytes(context_path, json.dumps(context).encode())
    env = task_environment(command, context_path, values_path, payload)
    # Task run ids repeat across stores (each counts from 1000): recovery on this host tells
    # this store's task processes from another's by the (unique) worker id.
    env["HEADRACE_WORKER_ID"] = attempt.worker_id or ""
    env["HEADRACE_OUTPUT"] = output_path
    if command.cwd is not None and not Path(command.cwd).is_dir():
        message = f"working_directory {command.cwd!r} does not exist"
        Path(log_path).write_text(message + "\n")
        return AttemptOutcome(Result.FAILED, error=message)
    redact = redactor_for(env)  # secrets never reach the log, task values or exit values
    timing = {"prepared": _now_ms()}  # where the attempt's time on this worker goes (issue 17)
    with _open_private(log_path) as log:
        spec = payload.get("environment")
        if spec is not None and command.own_environment:
            env["HEADRACE_ENVIRONMENT_SPEC"] = json.dumps(spec)
        elif spec is not None:
            try:
                command = _in_environment(command, spec, home, log)
            except HeadraceError as exc:
                log.write(f"{exc}\n".encode())
                return AttemptOutcome(Result.FAILED, error=str(exc))
        timing["environment"] = _now_ms()
        try:  # Spark compute (headrace.compute): the task gets only the cluster's address
            from headrace.compute.attach import spark_task_env

            env.update(spark_task_env(payload, home, store, env, log))
        except HeadraceError as exc:
            log.write(f"{exc}\n".encode())
            return AttemptOutcome(Result.FAILED, error=str(exc))
        timing["cluster"] = _now_ms()
        update_watch = None
        if payload["task_type"] == "pipeline_task":
            # The worker records the update and its progress; the task's process never sees
            # the store (headrace.pipelines.owner). Last before the process starts: from here
            # every way out ends the update.
            from headrace.pipelines.task_update import start_task_update

            try:
                update_watch = start_task_update(store, payload["settings"], Path(folder), env)
            except HeadraceError as exc:
                message = f"pipeline_task: {type(exc).__name__}: {exc}"
                log.write(f"{message}\n".encode())
                return AttemptOutcome(Result.FAILED, error=message)
        # Every byte of output goes through a pipe (process_watch), with or without secrets to
        # redact: given the log file itself, a task that reopens its output by path
        # (`echo x > /dev/stderr`, `tee /dev/stdout`) truncates it, and a process that escaped
        # the task's session could write into the ended attempt's log for ever.
        log.flush()  # what the worker wrote (environment build, cluster) comes first
        started = time.monotonic()
        try:
            proc = subprocess.Popen(
                command.argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                cwd=command.cwd,
                env=env,
                start_new_session=True,
            )
        except (OSError, ValueError) as exc:  # ValueError: a NUL byte a reference put in
            log.write(f"cannot start {command.argv[0]}: {exc}\n".encode())
            if update_watch is not None:
                update_watch.finish(None)
            return AttemptOutcome(Result.FAILED, error=f"cannot start {command.argv[0]}: {exc}")
        timing["spawned"] = _now_ms()
        if update_watch is not None:
            update_watch.own(proc.pid)  # killed if the update stops being ours
        watch = watch_process(proc, log, redact)  # its output goes to the log meanwhile
        try:
            timed_out = _supervise(
                proc, watch.wait, payload.get("timeout_seconds") or 0, kill, record_pid, started
            )
        finally:
            # The task is over (or we cannot watch it any more): nothing of it may live on,
            # not even children it left in the background.
            _signal_group(proc.pid, signal.SIGKILL)
            if update_watch is not None:
                update_watch.disown()
            proc.wait()
            timing["exited"] = _now_ms()
            watch.close()
            if update_watch is not None:
                update_watch.finish(proc.returncode, canceled=kill.reason is not None)
    outcome = _outcome(proc.returncode, timed_out, kill.reason, log_path, values_path, payload)
    outcome = with_full_disk(outcome, folder)  # the cause, not the cut-off last line
    # The marks ride in the attempt's output (its JSON column): get-output shows only the
    # Jobs API's fields of it, the run page's overhead panel splits "on worker" with them.
    output = {**(_read_output(output_path) or {}), TIMING_KEY: timing}
    outcome = dataclasses.replace(outcome, output=output)
    if not redact:
        return outcome
    for path in (values_path, output_path):  # the task's files too: no secret stays on disk
        _scrub(Path(path), redact)
    return _redacted(outcome, redact)


def _scrub(path: Path, redact: Redactor) -> None:
    with contextlib.suppress(OSError):
        text = path.read_text(encoding="utf-8", errors="replace")
        clean = redact(text)
        if clean != text:
            path.write_text(clean, encoding="utf-8")


def _make_attempt_dir(logs_dir: Path, folder: str) -> None:
    """Create `folder` (logs/<run>/<task>/<attempt>) with as few system calls as it needs."""
    task_dir = os.path.dirname(folder)
    try:
        os.mkdir(task_dir)  # the task's folder: new on the task's first attempt
    except FileExistsError:
        pass
    except FileNotFoundError:  # a new run's first attempt (or a new logs folder)
        run_dir = os.path.dirname(task_dir)
        try:
            os.mkdir(run_dir)
        except FileExistsError:  # another slot's attempt of the run made it meanwhile
            pass
        except FileNotFoundError:  # logs may hold what a task printed: its owner's eyes only
            logs_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.makedirs(run_dir, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            os.mkdir(task_dir)
    with contextlib.suppress(FileExistsError):  # task run ids repeat across stores
        os.mkdir(folder)


def _write_bytes(path: str | Path, data: bytes) -> None:
    """`path.write_bytes(data)` without a buffered file object around one write."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def _open_private(path: str | Path) -> BinaryIO:
    """Open a log for writing, readable by its owner only (0600)."""
    return open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb")


def _redacted(outcome: AttemptOutcome, redact: Redactor) -> AttemptOutcome:
    """Secret values replaced in what get-output shows: task values, exit values, errors."""
    return dataclasses.replace(
        outcome,
        task_values=redact.deep(outcome.task_values),
        output=redact.deep(outcome.output),
        error=redact.deep(outcome.error),
        error_trace=redact.deep(outcome.error_trace),
    )


def _in_environment(command: TaskCommand, spec: dict, home: Path, log: BinaryIO) -> TaskCommand:
    """The command run by the python of the task's environment (built now if need be)."""
    from headrace.worker.environments import ensure_environment

    python = ensure_environment(spec, home, log)
    if command.argv[:1] != [sys.executable]:
        return command  # not a Python process: the environment has nothing to change
    return dataclasses.replace(command, argv=[str(python), *command.argv[1:]])


def _supervise(
    proc: subprocess.Popen,
    wait: Callable[[float | None], bool],
    timeout_seconds: float,
    kill: KillSwitch,
    record_pid: Callable[[int], None],
    started: float,
) -> bool:
    """Wait for the process (a kill wakes the wait by ending it). True if it timed out.

    `wait(timeout)` is True once the process has exited and is reaped, False on timeout
    (`process_watch`: woken by the exit itself, not by polling with doubling sleeps as
    `Popen.wait(timeout)` does, which adds up to the task's own run time again before its
    downstream task can start).
    """
    kill.attach(proc.pid)
    deadline = started + timeout_seconds if timeout_seconds else None
    pid_at: float | None = started + PID_RECORD_AFTER
    recorder: threading.Thread | None = None
    try:
        while True:
            wake = [t for t in (pid_at, deadline) if t is not None]
            if wait(max(min(wake) - time.monotonic(), 0.0) if wake else None):
                return False
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                terminate_group(proc, wait)
                return True
            if pid_at is not None and now >= pid_at:
                pid_at = None
                # On its own thread: this one copies the task's output, which must go on
                # while the store answers (slowly, or not at all while it is down).
                recorder = threading.Thread(
                    target=_record_pid, args=(record_pid, proc.pid), name="headrace-pid"
                )
                recorder.daemon = True
                recorder.start()
    finally:
        if recorder is not None:
            recorder.join()  # recorded before the attempt is reported, as it always was


def _record_pid(record_pid: Callable[[int], None], pid: int) -> None:
    try:
        record_pid(pid)
    except Exception as exc:  # only crash recovery needs it; the task goes on
        from headrace.store.health import problem

        broken = problem(exc)  # a broken store says so in one line
        log.warning("could not record pid %s: %s", pid, broken, exc_info=not broken)


def terminate_group(proc: subprocess.Popen, wait: Callable[[float | None], bool]) -> None:
    """SIGTERM the attempt's whole process group, SIGKILL it after a grace period.

    `wait` keeps copying the output meanwhile: a task cleaning up on SIGTERM may write more
    than a pipe holds.
    """
    _signal_group(proc.pid, signal.SIGTERM)
    wait(KILL_GRACE_SECONDS)
    # Children that outlived their leader still hold the group.
    _signal_group(proc.pid, signal.SIGKILL)
    proc.wait()


def _outcome(
    code: int,
    timed_out: bool,
    kill_reason: str | None,
    log_path: str | Path,
    values_path: str | Path,
    payload: dict,
) -> AttemptOutcome:
    values, values_error = _read_task_values(values_path)
    if timed_out:
        seconds = payload.get("timeout_seconds")
        return AttemptOutcome(
            Result.TIMEDOUT,
            error=f"timed out after {seconds} s",
            exit_code=code,
            task_values=values,
        )
    if kill_reason == SHUTDOWN:
        message = "the worker shut down before the attempt finished"
        return AttemptOutcome(Result.FAILED, error=message, exit_code=code, task_values=values)
    if kill_reason is not None:
        return AttemptOutcome(Result.CANCELED, error="canceled", exit_code=code, task_values=values)
    if values_error:
        return AttemptOutcome(Result.FAILED, error=values_error, exit_code=code)
    if code == 0:
        return AttemptOutcome(Result.SUCCESS, exit_code=0, task_values=values)
    error, trace = _error_from_log(log_path)
    if code < 0:
        name = signal.Signals(-code).name if -code in signal.valid_signals() else str(-code)
        reason = f"killed by signal {name}"
    else:
        reason = f"exit code {code}"
    return AttemptOutcome(
        Result.FAILED,
        error=f"{error} ({reason})" if error else reason,
        error_trace=trace,
        exit_code=code,
        task_values=values,
    )


def _now_ms() -> int:
    return int(time.time() * 1000)


def _read_output(path: str | Path) -> dict | None:
    """What the task type reported (runtime.output.report_output); unreadable means none."""
    raw = _read_if_there(path)
    if raw is None:
        return None
    if len(raw) > MAX_OUTPUT_BYTES:
        log.warning("ignoring %s: %d bytes is over the limit", path, len(raw))
        return None
    try:
        output = json.loads(raw)
    except ValueError:
        log.warning("ignoring %s: not valid JSON", path)
        return None
    return output if isinstance(output, dict) else None


def _read_task_values(path: str | Path) -> tuple[dict | None, str | None]:
    raw = _read_if_there(path)
    if raw is None:
        return None, None
    try:
        values = json.loads(raw)
    except ValueError:
        return None, "task values file is not valid JSON"
    for key, value in values.items():
        size = len(json.dumps(value).encode())
        if size > MAX_TASK_VALUE_BYTES:
            return None, f"task value {key!r} is {size} bytes; the limit is {MAX_TASK_VALUE_BYTES}"
    return values, None


def _read_if_there(path: str | Path) -> bytes | None:
    """The file's bytes, None if there is none (most tasks write neither output nor task
    values): `Path.read_bytes` without a file object, whose making and failing cost more."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _error_from_log(path: str | Path) -> tuple[str | None, str | None]:
    """The last meaningful line of the log and, for Python, the last traceback."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(f.tell() - _TAIL_BYTES, 0))
            tail = f.read(_TAIL_BYTES).decode(errors="replace")  # bounded, whatever the file
    except OSError:
        return None, None
    lines = [line.rstrip() for line in tail.splitlines() if line.strip()]
    if not lines:
        return None, None
    marker = tail.rfind("Traceback (most recent call last)")
    trace = tail[marker:].strip() if marker >= 0 else "\n".join(lines[-20:])
    return lines[-1].strip()[:1000], trace
