"""Stored job settings, parsed once per version: `jobs/run-now` of one job reuses the parse.

Parsing a job's settings (bounds, the pydantic models, the DAG and reference checks) is about
a tenth of a run-now's CPU in the server (issue 18), and a job's settings change only when
it is updated or reset. The cache is keyed by job id and holds the JSON text of the settings
it parsed; a lookup reuses the parse only when the settings given now have the *same text*
(exact: `1`, `1.0` and `true` differ, as they may for the models), so an update, a reset, a
`run-now` with `only` or legacy parameters, or a change by another process is never served a
stale parse, and no invalidation hook is needed. Writing the text costs a few percent of a
parse. Parsing is a pure function of the settings; the parsed models are only read afterwards
(a Git pin copies them).
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from typing import Any

from headrace.spec.loader import parse_job_settings
from headrace.spec.models import JobSettings

MAX_JOBS = 256  # jobs whose parse is kept (least recently used first out)

_parsed: OrderedDict[int, tuple[str, JobSettings]] = OrderedDict()
_lock = threading.Lock()


def parsed_settings(job_id: int, settings: Any) -> JobSettings:
    """`settings` (job `job_id`'s stored settings, maybe adjusted for one run) parsed and
    validated. Raises: SpecError, as `parse_job_settings`."""
    try:
        text = json.dumps(settings)
    except (TypeError, ValueError, RecursionError):  # not JSON data: parse, remember nothing
        return parse_job_settings(settings)
    with _lock:
        hit = _parsed.get(job_id)
        if hit is not None and hit[0] == text:
            _parsed.move_to_end(job_id)
            return hit[1]
    parsed = parse_job_settings(settings)  # raises before anything is remembered
    with _lock:
        _parsed[job_id] = (text, parsed)
        _parsed.move_to_end(job_id)
        while len(_parsed) > MAX_JOBS:
            _parsed.popitem(last=False)
    return parsed


def forget() -> None:
    """Drop every remembered parse (tests)."""
    with _lock:
        _parsed.clear()
