"""Which attempt a replay re-executes, and what it was given (issue 16). Read-only.

Everything an attempt's process is given is recorded when the attempt is queued, in its
payload: the task type's settings with every reference resolved, the widget parameters, the
task values of the run's tasks at that moment, the environment spec, the timeout. A replay
runs exactly that again (worker.replay), so nothing is re-resolved against today's state.
"""

from __future__ import annotations

import re
from typing import Any

from headrace.errors import NotFound, SpecError
from headrace.store import runs as run_store
from headrace.store.db import Store
from headrace.store.records import Attempt

_ITERATION = re.compile(r"^(?P<key>.+)\[(?P<index>\d+)\]$")


def recorded_attempt(store: Store, run_id: int, task: str, attempt: int | None = None) -> Attempt:
    """The attempt of task `task` (`KEY[N]`: a for_each iteration) of run `run_id`: number
    `attempt`, else the last one. Raises: NotFound, SpecError."""
    match = _ITERATION.match(task)
    key, index = (match["key"], int(match["index"])) if match else (task, None)
    with store.read() as conn:
        run_store.get_run(conn, run_id)  # NotFound names the run
        found = [
            a
            for a in run_store.attempts_of_run(conn, run_id)
            if a.payload.get("task_key") == key and a.payload.get("iteration") == index
        ]
    if not found:
        raise NotFound(f"run {run_id} has no attempt of task {task!r} (was it ever started?)")
    if attempt is None:
        return found[-1]
    for a in found:
        if a.attempt_number == attempt:
            return a
    numbers = ", ".join(str(a.attempt_number) for a in found)
    raise SpecError(f"--attempt {attempt}: task {task!r} of run {run_id} has attempts {numbers}")


def summary(attempt: Attempt) -> dict[str, Any]:
    """What the replay will use, for printing before it starts."""
    p = attempt.payload
    return {
        "run_id": attempt.run_id,
        "task_key": p.get("task_key"),
        "attempt_number": attempt.attempt_number,
        "task_type": p.get("task_type"),
        "settings": p.get("settings"),
        "parameters": p.get("parameters"),
        "upstream_task_values": p.get("task_values"),
        "environment": p.get("environment"),
        "original_result": attempt.result.value if attempt.result else None,
        "original_exit_code": attempt.exit_code,
    }
