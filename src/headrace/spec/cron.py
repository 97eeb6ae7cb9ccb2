"""Quartz cron expressions (as Databricks schedules use them), evaluated with croniter.

Quartz fields are `sec min hour day-of-month month day-of-week [year]`; exactly one of
day-of-month and day-of-week is `?`. Day-of-week numbers are 1-7 = SUN-SAT (croniter: 0-6), so
numbers are shifted; `nL` (last weekday n of the month) becomes croniter's `L<n-1>` and a lone
`L` means SAT. Gaps: croniter has no `LW` (last weekday of the month) and no `L-n` (n days
before the last day); `quartz_error` accepts them, `next_fire_time` raises `NotSupported`.
Daylight saving: a wall-clock time that occurs twice fires once (the first time); one that does
not exist fires at the end of the gap (croniter's behaviour).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from headrace.errors import HeadraceError, NotSupported, SpecError, SpecIssue

_NAMES = ("second", "minute", "hour", "day-of-month", "month", "day-of-week", "year")
_BOUNDS = ((0, 59), (0, 59), (0, 23), (1, 31), (1, 12), (1, 7), (1970, 2099))
_MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_MONTHS = {m: i for i, m in enumerate(_MONTH_NAMES, 1)}
_DAYS = {d: i for i, d in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"), 1)}
_VALUE = r"(\d+|[A-Za-z]{3})"
_ITEM = re.compile(rf"^(?:\*|{_VALUE}(?:-{_VALUE})?)(?:/(\d+))?$")
_DOM_SPECIAL = re.compile(r"^(?:L(?:-(\d+))?|LW|(\d+)W)$", re.IGNORECASE)
_DOW_SPECIAL = re.compile(rf"^(?:L|{_VALUE}L|{_VALUE}#(\d+))$", re.IGNORECASE)
DOM, DOW = 3, 5


class NoFireTime(HeadraceError):
    """The cron expression never fires after the given time."""


def timezone_error(timezone_id: str) -> str | None:
    """None when `timezone_id` is a known IANA/Java zone id, else the reason."""
    try:
        ZoneInfo(timezone_id)
    except (ZoneInfoNotFoundError, ValueError):
        return f"unknown time zone '{timezone_id}' (use an id like 'UTC' or 'Europe/Berlin')"
    return None


def quartz_error(expr: str) -> str | None:
    """None when `expr` is a valid Quartz cron expression, else the reason."""
    fields = expr.split()
    if len(fields) not in (6, 7):
        return (
            f"expected 6 or 7 fields (second minute hour day-of-month month day-of-week [year]), "
            f"got {len(fields)} in '{expr}'"
        )
    if (fields[DOM] == "?") == (fields[DOW] == "?"):
        return "exactly one of day-of-month and day-of-week must be '?' (e.g. '0 0 12 * * ?')"
    for i, field in enumerate(fields):
        reason = _field_error(i, field)
        if reason is not None:
            return f"{_NAMES[i]} field '{field}': {reason}"
    return None


def next_fire_time(expr: str, timezone_id: str, after: datetime) -> datetime:
    """The first fire time strictly after `after` (naive means UTC), as an aware UTC datetime.

    Raises:
        SpecError: the expression or the time zone is invalid.
        NotSupported: the expression uses a Quartz feature croniter lacks (`LW`, `L-n`).
        NoFireTime: the expression never fires again (e.g. its years are past).
    """
    from croniter import CroniterBadDateError, croniter  # 30 ms: only when a schedule is due

    issues = [
        SpecIssue(path, reason)
        for path, reason in (
            ("quartz_cron_expression", quartz_error(expr)),
            ("timezone_id", timezone_error(timezone_id)),
        )
        if reason is not None
    ]
    if issues:
        raise SpecError(issues)
    zone = ZoneInfo(timezone_id)
    start = after.replace(tzinfo=UTC) if after.tzinfo is None else after
    itr = croniter(_to_croniter(expr), start.astimezone(zone), second_at_beginning=True)
    try:
        fire = itr.get_next(datetime)
        if fire.fold == 1 and _occurred_before(fire, start):
            fire = itr.get_next(datetime)
    except CroniterBadDateError:
        raise NoFireTime(f"'{expr}' does not fire after {start.isoformat()}") from None
    return fire.astimezone(UTC)


def _occurred_before(fire: datetime, start: datetime) -> bool:
    """Whether the first occurrence of an ambiguous wall-clock time `fire` is before `start`."""
    first = fire.replace(fold=0)
    return first.utcoffset() != fire.utcoffset() and first <= start


def _field_error(i: int, field: str) -> str | None:
    """The reason one field is invalid, or None."""
    if field == "?":
        return None if i in (DOM, DOW) else "'?' is only allowed in day-of-month or day-of-week"
    special = _DOM_SPECIAL if i == DOM else _DOW_SPECIAL if i == DOW else None
    match = special.match(field) if special is not None else None
    if match is not None:
        return _special_error(i, match)
    for item in field.split(","):
        if special is not None and special.match(item):
            return f"'{item}' must be the only value in the field"
        reason = _item_error(i, item)
        if reason is not None:
            return reason
    return None


def _special_error(i: int, match: re.Match[str]) -> str | None:
    """Range checks for `L-n`, `nW`, `nL` and `n#k`."""
    if i == DOM:
        offset, day = match.group(1), match.group(2)
        if offset is not None and int(offset) > 30:
            return "the offset in 'L-n' must be at most 30"
        return _value_error(i, day) if day is not None else None
    day, nth = match.group(1) or match.group(2), match.group(3)
    if nth is not None and not 1 <= int(nth) <= 5:
        return "the n in 'day#n' must be 1-5"
    return _value_error(i, day) if day is not None else None


def _item_error(i: int, item: str) -> str | None:
    """The reason one comma-separated item (`*`, `a`, `a-b`, with `/step`) is invalid."""
    match = _ITEM.match(item)
    if match is None:
        return f"'{item}' is not a value, range (a-b), step (a/n) or list"
    for value in match.group(1, 2):
        if value is not None and (reason := _value_error(i, value)) is not None:
            return reason
    step, (low, high) = match.group(3), _BOUNDS[i]
    if step is not None and not 1 <= int(step) <= high - low + 1:
        return f"step '{step}' must be 1-{high - low + 1}"
    return None


def _value_error(i: int, value: str) -> str | None:
    """The reason a single number or name is invalid for field `i`."""
    low, high = _BOUNDS[i]
    if value.isdigit():
        return None if low <= int(value) <= high else f"{value} is out of range {low}-{high}"
    names = _MONTHS if i == 4 else _DAYS if i == DOW else {}
    if value.upper() in names:
        return None
    if names:
        return f"'{value}' is not one of {', '.join(names)}"
    return f"'{value}' is not a number"


def _to_croniter(expr: str) -> str:
    """The croniter expression (seconds first) for a valid Quartz expression."""
    fields = expr.upper().split()
    fields[DOM] = "*" if fields[DOM] == "?" else fields[DOM]
    if fields[DOM] == "LW" or fields[DOM].startswith("L-"):
        raise NotSupported(f"day-of-month '{fields[DOM]}' in '{expr}' is not supported yet")
    dow = fields[DOW]
    if dow == "?":
        fields[DOW] = "*"
    elif dow == "L":
        fields[DOW] = "6"  # a lone L in day-of-week is the last day of the week: SAT
    elif dow.endswith("L"):
        fields[DOW] = "L" + _shift_day(dow[:-1])
    else:
        fields[DOW] = re.sub(r"(?<![#/])\d+", lambda m: _shift_day(m.group(0)), dow)
    return " ".join(fields).lower()


def _shift_day(value: str) -> str:
    """Quartz day-of-week (1-7 = SUN-SAT, or a name) -> croniter's (0-6 = SUN-SAT)."""
    return str(int(value) - 1) if value.isdigit() else str(_DAYS[value.upper()] - 1)
