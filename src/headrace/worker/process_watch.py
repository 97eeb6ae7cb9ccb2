"""Watching a task's process on the slot's own thread: its exit and its output pipe together.

One `poll` waits for both the process's exit (a pidfd, Linux >= 5.3) and its output pipe; the
output is redacted and written to the log (`log_pipe.StreamRedactor`) by the thread that
supervises the attempt anyway. A copying thread per attempt (`log_pipe.LogPump`, still used
where pidfds are missing) cost a thread start, its join and a thread switch per chunk of
output: a measurable share of a short task's CPU on a busy worker (issue 18).

The log gets the same bytes in the same order either way; what a task writes after it exited
(a process that escaped its group holding the pipe) is read for `DRAIN_SECONDS` more, as
`LogPump` does.
"""

from __future__ import annotations

import contextlib
import os
import select
import subprocess
import time
from typing import BinaryIO

from headrace.runtime.secrets import Redactor
from headrace.worker.log_pipe import DRAIN_SECONDS, LogPump, StreamRedactor

_CHUNK = 64 * 1024
_PIPE_EVENTS = select.POLLIN | select.POLLHUP | select.POLLERR
# A poll's timeout is a C int of milliseconds: wait at most an hour per call, then again.
_MAX_POLL_MS = 3_600_000


class ProcessWatch:
    """`wait(timeout)` for the process's exit while copying its output into `log`.

    Raises OSError (or AttributeError off Linux) when no pidfd can be opened: the caller then
    copies with `LogPump` and waits with `Popen.wait`. A failing log write (a full disk) is
    remembered in `error`, not raised: the pipe is still read, so the task never blocks on it.
    """

    def __init__(self, proc: subprocess.Popen, log: BinaryIO, redactor: Redactor) -> None:
        self._pidfd = os.pidfd_open(proc.pid)
        self._proc = proc
        self._pipe = proc.stdout
        self._fd: int | None = self._pipe.fileno() if self._pipe is not None else None
        self._log = log
        self._stream = StreamRedactor(redactor.values)
        self.error: OSError | None = None
        self._exited = False
        self._poller = select.poll()
        self._poller.register(self._pidfd, select.POLLIN)
        if self._fd is not None:
            self._poller.register(self._fd, _PIPE_EVENTS)

    def wait(self, timeout: float | None) -> bool:
        """True once the process has exited (and is reaped); False after `timeout` seconds."""
        if self._exited:
            return True
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            wait_ms = -1  # until something happens
            if deadline is not None:  # at least one look, even when the time is up
                wait_ms = min(max(int((deadline - time.monotonic()) * 1000) + 1, 0), _MAX_POLL_MS)
            for fd, _ in self._poller.poll(wait_ms):
                if fd == self._pidfd:
                    self._exited = True
                else:
                    self._read()
            if self._exited:
                self._proc.wait()  # it has exited: reaping it does not block
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return False

    def close(self, drain_seconds: float = DRAIN_SECONDS) -> None:
        """Read the output to its end (at most `drain_seconds` more), flush it, let go."""
        stop_at = time.monotonic() + drain_seconds
        with contextlib.suppress(KeyError):
            self._poller.unregister(self._pidfd)
        while self._fd is not None:
            left = stop_at - time.monotonic()
            if left <= 0:
                break
            if self._poller.poll(int(left * 1000) + 1):
                self._read()
        self._write(self._stream.flush())
        os.close(self._pidfd)
        if self._pipe is not None:
            with contextlib.suppress(OSError):
                self._pipe.close()

    def _read(self) -> None:
        """One read of the pipe into the log; at its end (or if it broke) stop polling it."""
        assert self._fd is not None
        try:
            data = os.read(self._fd, _CHUNK)
        except OSError as exc:  # the pipe itself failed: keep what we have
            self.error = self.error or exc
            data = b""
        if data:
            self._write(self._stream.feed(data))
            return
        self._poller.unregister(self._fd)
        self._fd = None

    def _write(self, data: bytes) -> None:
        if not data or self.error is not None:
            return
        try:
            self._log.write(data)
            self._log.flush()
        except (OSError, ValueError) as exc:  # ValueError: the log was closed under us
            self.error = exc if isinstance(exc, OSError) else OSError(str(exc))


class ThreadWatch:
    """The same for systems without pidfds: a `LogPump` thread copies, `Popen.wait` polls."""

    def __init__(self, proc: subprocess.Popen, log: BinaryIO, redactor: Redactor) -> None:
        self._proc = proc
        self._pump = LogPump(proc.stdout, log, redactor)

    @property
    def error(self) -> OSError | None:
        return self._pump.error

    def wait(self, timeout: float | None) -> bool:
        try:
            self._proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return False
        return True

    def close(self, drain_seconds: float = DRAIN_SECONDS) -> None:
        self._pump.close(drain_seconds)


def watch_process(
    proc: subprocess.Popen, log: BinaryIO, redactor: Redactor
) -> ProcessWatch | ThreadWatch:
    """A watch over a started process: on this thread where pidfds exist, else a pump thread."""
    try:
        return ProcessWatch(proc, log, redactor)
    except (AttributeError, OSError):  # not Linux, an old kernel, or out of descriptors
        return ThreadWatch(proc, log, redactor)


__all__ = ["ProcessWatch", "ThreadWatch", "watch_process"]
