"""The owner's side of a pipeline update: the process that holds the store runs the update's
process, records what it reports and renews the update's lease.

The update's process (`headrace.pipelines.update`) runs the pipeline's code, so it never sees
the store (nor its URL and password): it reads its update from a JSON file and appends each
state it reaches to a JSON-lines file beside it. The owner (the worker running a
`pipeline_task`, the server that started an API update, the CLI's `pipelines update`) polls
that file, writes the states to the store, renews the lease while the process runs, and
records the end: the last state the process wrote, else FAILED with its exit code (or
CANCELED). If the owner itself dies, the lease expires and readers fail the update
(engine.pipelines: LEASE_EXPIRED).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from headrace.engine import pipelines as engine

if TYPE_CHECKING:
    from headrace.store.db import Store

log = logging.getLogger("headrace.pipelines")
UPDATE_FILE = "pipeline_update.json"
STATES_FILE = "pipeline_states.jsonl"
# The update process finds its update file here (a pipeline_task's attempt folder).
UPDATE_ENV = "HEADRACE_PIPELINE_UPDATE"
_POLL_SECONDS = 0.25


def write_update_file(folder: Path, update: dict[str, Any]) -> Path:
    """The update as its process reads it (no bookkeeping of the owner), states file emptied."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / UPDATE_FILE
    public = {k: v for k, v in update.items() if k not in ("host", "pid", "lease_until")}
    path.write_text(json.dumps(public))
    (folder / STATES_FILE).write_text("")
    return path


class UpdateWatch:
    """Records what one running update process reports, and keeps its lease, until `finish`."""

    def __init__(self, store: Store, update: dict[str, Any], folder: Path) -> None:
        self.store = store
        self.update = update
        self.update_file = write_update_file(folder, update)
        self.states_file = folder / STATES_FILE
        self._offset = 0
        self._final: dict[str, Any] | None = None  # the terminal state the process reported
        self._pid: int | None = None  # the update's process, once started (own)
        self._pid_lock = threading.Lock()  # a reaped pid may be reused: see disown
        self.lost = False  # the update ended without us: its process was killed
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="pipeline-update", daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        renew_at = time.monotonic() + engine.RENEW_SECONDS
        while not self._stop.wait(_POLL_SECONDS):
            try:
                for state in self._new_states():
                    if state["state"] in engine.TERMINAL_STATES:  # recorded by finish
                        self._final = state
                    else:
                        self.update = engine.set_update(self.store, self.update, **state)
                if time.monotonic() >= renew_at:
                    renew_at = time.monotonic() + engine.RENEW_SECONDS
                    if not engine.renew_lease(self.store, self.update):
                        self._lost()
                        return
            except Exception:  # a store hiccup: the next poll tries again
                log.warning("pipeline update %s: recording failed", self._id(), exc_info=True)

    def own(self, pid: int) -> None:
        """The update's process (killed with its process group if the update stops being ours)."""
        with self._pid_lock:
            self._pid = pid
            if self.lost:  # lost before the process started
                _kill_group(pid)

    def disown(self) -> None:
        """The process is about to be reaped: its pid may belong to another process after."""
        with self._pid_lock:
            self._pid = None

    def _lost(self) -> None:
        """The update ended without us (a reader failed it: our lease had expired, e.g. the
        store was unreachable too long): its process must not go on writing tables."""
        self.lost = True
        log.warning(
            "pipeline update %s: no longer ours (it ended meanwhile, e.g. failed by a reader "
            "because its lease expired); killing its process %s and its process group",
            self._id(),
            self._pid,
        )
        with self._pid_lock:
            if self._pid is not None:
                _kill_group(self._pid)

    def _id(self) -> str:
        return str(self.update["update_id"])

    def _new_states(self) -> list[dict[str, Any]]:
        """States appended since the last look (whole lines only)."""
        try:
            with open(self.states_file, "rb") as f:
                f.seek(self._offset)
                data = f.read()
        except OSError:
            return []
        end = data.rfind(b"\n") + 1
        self._offset += end
        states = []
        for line in data[:end].splitlines():
            with contextlib.suppress(ValueError):
                state = json.loads(line)
                if isinstance(state, dict) and isinstance(state.get("state"), str):
                    states.append(
                        {k: state[k] for k in ("state", "state_message", "pid") if k in state}
                    )
        return states

    def finish(self, returncode: int | None, *, canceled: bool = False) -> dict[str, Any]:
        """Record the update's end once its process has ended; the update as recorded."""
        self._stop.set()
        self._thread.join()
        final = self._final
        for state in self._new_states():
            if state["state"] in engine.TERMINAL_STATES:
                final = state
            else:
                self.update = {**self.update, **state}
        if self.lost:  # the store keeps the verdict of whoever ended it
            final = {"state": "FAILED", "state_message": "the update ended without its owner"}
        if final is None and canceled:
            final = {"state": "CANCELED", "state_message": "canceled"}
        if final is None:
            final = {
                "state": "FAILED",
                "state_message": f"the update's process ended (exit code {returncode})",
            }
        final.pop("pid", None)
        for delay in (0.5, 2.0, None):  # the end must reach the store; retry a hiccup
            try:
                self.update = engine.set_update(self.store, self.update, **final)
                break
            except Exception:
                if delay is None:
                    raise
                time.sleep(delay)
        return self.update


def _kill_group(pid: int) -> None:
    """SIGKILL the process's group when it leads one (started in its own session), else it."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if os.getpgid(pid) == pid:
            os.killpg(pid, signal.SIGKILL)
        else:
            os.kill(pid, signal.SIGKILL)


def update_command(update_file: Path) -> list[str]:
    return [sys.executable, "-m", "headrace.pipelines.update", "--update-file", str(update_file)]


def process_env(home: Path) -> dict[str, str]:
    """The environment of an update process: no Headrace setting (the store's URL above all)
    except the home and where warehouses are, as for any task (worker.supervisor)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADRACE_")}
    env.update({k: v for k, v in os.environ.items() if k.startswith("HEADRACE_WAREHOUSE")})
    env["HEADRACE_HOME"] = str(home)
    return env


def start_background(store: Store, home: Path, update: dict[str, Any]) -> subprocess.Popen:
    """Run the update's process in the background (its output in the update's `output.log`);
    a thread of this process owns it to its end."""
    folder = engine.update_folder(home, update["pipeline_id"], update["update_id"])
    watch = UpdateWatch(store, update, folder)
    with open(folder / "output.log", "wb") as out:
        proc = subprocess.Popen(
            update_command(watch.update_file),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=process_env(home),
            start_new_session=True,
        )
    watch.update = engine.set_update(store, update, pid=proc.pid)
    watch.own(proc.pid)
    threading.Thread(
        target=lambda: watch.finish(proc.wait()), name="pipeline-update-end", daemon=True
    ).start()
    return proc


def run_here(store: Store, home: Path, update: dict[str, Any], *, stdout: Any = None) -> int:
    """Run the update's process with this terminal (or `stdout`) as its output, to its end
    (the CLI); 0 when it COMPLETED."""
    folder = engine.update_folder(home, update["pipeline_id"], update["update_id"])
    watch = UpdateWatch(store, update, folder)
    proc = subprocess.Popen(update_command(watch.update_file), env=process_env(home), stdout=stdout)
    watch.update = engine.set_update(store, update, pid=proc.pid)
    watch.own(proc.pid)
    canceled = False
    try:
        code = proc.wait()
    except KeyboardInterrupt:
        canceled = True
        proc.terminate()
        code = proc.wait()
    ended = watch.finish(code, canceled=canceled)
    return 0 if ended["state"] == "COMPLETED" else 1


__all__ = ["UPDATE_ENV", "UpdateWatch", "run_here", "start_background", "write_update_file"]
