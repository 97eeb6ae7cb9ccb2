"""The one place every byte of a task's output passes: a pipe from the task's process group to
its log file, with secret values redacted on the way (issue 11).

Redacting in the task (`runtime.secrets`) sees only `print` and `sys.stderr` of Python code;
`sys.stdout.buffer`, `os.write`, subprocesses, shell tasks and a notebook's children write to
file descriptor 1 directly. They all end in this pipe, so the log (and `runs/get-output`'s
logs, errors and traces, which come from it) never holds a secret's value. The pipe is used
even with nothing to redact: a process given the log file itself truncates it when it reopens
its output by path (`echo x > /dev/stderr`), and one that escaped the task's session would keep
writing into an ended attempt's log.

Secrets are the files of the task's secrets directory (`runtime.secrets`); values shorter than
`MIN_REDACTED_LENGTH` are left alone (as Databricks does). A value split across two reads of
the pipe is still caught: up to (longest value - 1) bytes are held back until the next read
shows whether they start a secret.
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, BinaryIO

from headrace.runtime.secrets import MIN_REDACTED_LENGTH, REDACTED, Redactor

_CHUNK = 64 * 1024
_POLL_SECONDS = 0.2
# After the task's process group is gone, a process that escaped it (its own session) may
# still hold the pipe: read what it writes for this long, then stop listening.
DRAIN_SECONDS = 2.0


def task_secrets_dir(env: dict[str, str]) -> Path:
    """The secrets directory a task with this environment reads (`runtime.secrets_dir`)."""
    explicit = env.get("HEADRACE_SECRETS_DIR")
    if explicit:
        return Path(explicit).expanduser()
    home = env.get("HEADRACE_HOME")
    return (Path(home).expanduser() if home else Path.home() / ".headrace") / "secrets"


class StreamRedactor:
    """Replaces secret values in a byte stream fed in chunks of any size."""

    def __init__(self, values: Iterable[str]) -> None:
        raw = {v.encode() for v in values if len(v) >= MIN_REDACTED_LENGTH}
        ordered = sorted(raw, key=len, reverse=True)  # the longest value wins at one place
        self._pattern = re.compile(b"|".join(re.escape(v) for v in ordered)) if ordered else None
        self._hold = max((len(v) for v in ordered), default=1) - 1
        self._carry = b""
        self._mark = REDACTED.encode()

    def __bool__(self) -> bool:
        return self._pattern is not None

    def feed(self, chunk: bytes) -> bytes:
        """The bytes of the stream that are now known not to start a secret, redacted."""
        if self._pattern is None:
            return chunk
        buf = self._carry + chunk
        # A match starting before `safe` is complete: the longest value fits in `buf` from it.
        safe = len(buf) - self._hold
        out, pos = [], 0
        for found in self._pattern.finditer(buf):
            if found.start() >= safe:
                break
            out += [buf[pos : found.start()], self._mark]
            pos = found.end()
        cut = max(pos, safe)
        out.append(buf[pos:cut])
        self._carry = buf[cut:]
        return b"".join(out)

    def flush(self) -> bytes:
        """The rest of the stream (it has ended), redacted."""
        rest, self._carry = self._carry, b""
        if self._pattern is None:
            return rest
        return self._pattern.sub(self._mark, rest)


def redactor_for(env: dict[str, str]) -> Redactor:
    """A text redactor of every secret the task could read (for task values, exit values)."""
    # The usual case first, in one `stat` and no pathlib: no secrets directory at all. (Per
    # attempt: the directory may appear or change while the worker runs.)
    explicit = env.get("HEADRACE_SECRETS_DIR")
    home = env.get("HEADRACE_HOME")
    if explicit:
        folder = os.path.expanduser(explicit)
    elif home:
        folder = os.path.join(os.path.expanduser(home), "secrets")
    else:
        folder = str(task_secrets_dir(env))
    if not os.path.isdir(folder):
        return Redactor()
    return Redactor.from_directory(Path(folder))


class LogPump:
    """Copies a task's output pipe into its log file on a thread, redacting secrets.

    A failing write (a full disk) is remembered in `error`, not raised: the pump keeps reading
    so the task never blocks on a full pipe, and the supervisor reports the cause.
    """

    def __init__(self, pipe: Any, log: BinaryIO, redactor: Redactor) -> None:
        self._pipe = pipe
        self._fd = pipe.fileno()
        self._log = log
        self._stream = StreamRedactor(redactor.values)
        self.error: OSError | None = None
        self._stop_at: float | None = None
        self._thread = threading.Thread(target=self._run, name="headrace-log-pump", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        # poll, not select: a busy server's descriptors may be numbered past select's 1024.
        poller = select.poll()
        poller.register(self._fd, select.POLLIN | select.POLLHUP | select.POLLERR)
        try:
            while True:
                stop_at = self._stop_at
                if stop_at is not None and time.monotonic() >= stop_at:
                    break
                if not poller.poll(_POLL_SECONDS * 1000):
                    continue
                data = os.read(self._fd, _CHUNK)
                if not data:
                    break
                self._write(self._stream.feed(data))
        except OSError as exc:  # the pipe itself failed: keep what we have
            self.error = self.error or exc
        finally:
            self._write(self._stream.flush())

    def _write(self, data: bytes) -> None:
        if not data or self.error is not None:
            return
        try:
            self._log.write(data)
            self._log.flush()
        except (OSError, ValueError) as exc:  # ValueError: the log was closed under us
            self.error = exc if isinstance(exc, OSError) else OSError(str(exc))

    def close(self, drain_seconds: float = DRAIN_SECONDS) -> None:
        """Wait for the task's output to end (at most `drain_seconds` more), then stop."""
        self._stop_at = time.monotonic() + drain_seconds
        self._thread.join(drain_seconds + 2 * _POLL_SECONDS + 1)
        with contextlib.suppress(OSError):
            self._pipe.close()


__all__ = ["DRAIN_SECONDS", "LogPump", "StreamRedactor", "redactor_for", "task_secrets_dir"]
