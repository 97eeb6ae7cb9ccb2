"""A job's trigger in words ("At 02:00, every day (Europe/Paris)") and its next fire time.

Quartz cron is described by `cron-descriptor` (it reads Quartz's seconds, `?`, `L`, `W`, `#`
and year fields; day-of-week numbers 1-7 = SUN-SAT as in Quartz); the next fire time comes from
the scheduler's own `spec.cron.next_fire_time`, so the page shows what the trigger loop will do.
"""

from __future__ import annotations

import functools
import threading
from datetime import UTC, datetime
from typing import Any

from headrace.errors import HeadraceError

_UNITS = {"MINUTES": "minute", "HOURS": "hour", "DAYS": "day", "WEEKS": "week"}


@functools.lru_cache(maxsize=1024)
def describe_quartz(expr: str) -> str:
    """A Quartz cron expression in English; the expression itself if it cannot be read."""
    from cron_descriptor import ExpressionDescriptor, Options

    options = Options()
    options.use_24hour_time_format = True
    options.day_of_week_start_index_zero = False  # Quartz: 1 = Sunday
    options.throw_exception_on_parse_error = True
    try:
        text = ExpressionDescriptor(expr, options).get_description()
    except Exception:  # its parse errors share no base class; a bad expr is shown as is
        return expr
    if _every_day(expr):
        text += ", every day"
    return text


def _every_day(expr: str) -> bool:
    fields = expr.split()
    return (
        len(fields) >= 6
        and fields[3] in ("*", "?")
        and fields[4] == "*"
        and fields[5] in ("*", "?")
    )


def describe_trigger(settings: dict[str, Any]) -> str:
    """How a job's runs start, in words."""
    if settings.get("continuous") is not None:
        return "Continuous (a new run as soon as one ends)"
    schedule = settings.get("schedule")
    if schedule is not None:
        zone = schedule.get("timezone_id", "UTC")
        return f"{describe_quartz(schedule.get('quartz_cron_expression', ''))} ({zone})"
    trigger = settings.get("trigger")
    if trigger is not None:
        periodic = trigger.get("periodic")
        if periodic:
            n, unit = periodic.get("interval", 1), _UNITS.get(periodic.get("unit", ""), "?")
            return f"Every {unit}" if n == 1 else f"Every {n} {unit}s"
        if trigger.get("file_arrival"):
            return f"When files arrive in {trigger['file_arrival'].get('url', '?')}"
        kinds = [k for k in ("table_update", "table", "job_completion", "model") if trigger.get(k)]
        return f"On {kinds[0].replace('_', ' ')}" if kinds else "Trigger"
    return "Manual"


# (expr, zone) -> (asked at, next fire): the answer holds for any `now` in [asked at, fire).
_NEXT: dict[tuple[str, str], tuple[int, int]] = {}
_NEXT_LOCK = threading.Lock()


def next_fire_ms(settings: dict[str, Any], now_ms: int) -> int | None:
    """When a cron-scheduled, unpaused job fires next (epoch ms), else None."""
    from headrace.spec.cron import next_fire_time

    schedule = settings.get("schedule")
    if schedule is None or schedule.get("pause_status") == "PAUSED":
        return None
    try:
        key = (schedule["quartz_cron_expression"], schedule["timezone_id"])
    except KeyError:
        return None
    with _NEXT_LOCK:
        known = _NEXT.get(key)
    if known is not None and known[0] <= now_ms < known[1]:
        return known[1]
    after = datetime.fromtimestamp(now_ms / 1000, UTC)
    try:
        fire = int(next_fire_time(key[0], key[1], after).timestamp() * 1000)
    except HeadraceError:  # NotSupported, NoFireTime, a bad stored value
        return None
    with _NEXT_LOCK:
        if len(_NEXT) > 4096:  # many distinct schedules: start over rather than grow
            _NEXT.clear()
        _NEXT[key] = (now_ms, fire)
    return fire
