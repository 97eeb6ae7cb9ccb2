"""A full logs disk named as the cause of a task's failure (issue 11).

When the disk under the logs fills, the task's own output is cut off mid-line, so the last log
line ("log lin") is no reason at all: the disk is.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from headrace.engine.coordinator import AttemptOutcome
from headrace.states import Result

NO_SPACE = "No space left on device"


def disk_is_full(folder: str | Path) -> bool:
    """Whether the file system holding `folder` has no block left for us."""
    try:
        return os.statvfs(folder).f_bavail == 0
    except OSError:
        return False


def with_full_disk(outcome: AttemptOutcome, folder: str | Path) -> AttemptOutcome:
    """`outcome` failed with a full logs disk as its error, when the disk filled up.

    A task that exited 0 fails too: its output was cut off (silently, when it reached the log
    through a pipe), and a success with a lost log would hide that. Cancels and timeouts keep
    their result.
    """
    if outcome.result not in (Result.SUCCESS, Result.FAILED) or not disk_is_full(folder):
        return outcome
    cause = f"{NO_SPACE}: the disk holding the task's log ({folder}) is full; the log is cut off"
    error = f"{cause} (then: {outcome.error})" if outcome.error else cause
    return dataclasses.replace(outcome, result=Result.FAILED, error=error)
