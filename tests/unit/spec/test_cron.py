"""Quartz cron: validation messages and next fire times checked against hand-computed dates."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from headrace.errors import NotSupported, SpecError
from headrace.spec.cron import NoFireTime, next_fire_time, quartz_error, timezone_error

# 2024-01-01 is a Monday.
NEW_YEAR = datetime(2024, 1, 1, tzinfo=UTC)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("expr", "after", "expected"),
    [
        ("0 0 * * * ?", NEW_YEAR, utc(2024, 1, 1, 1)),  # hourly
        ("0 0 * * * ?", utc(2024, 1, 1, 0, 30), utc(2024, 1, 1, 1)),
        ("0 30 6 ? * MON-FRI", NEW_YEAR, utc(2024, 1, 1, 6, 30)),
        ("0 30 6 ? * MON-FRI", utc(2024, 1, 5, 7), utc(2024, 1, 8, 6, 30)),  # Fri after 6:30 -> Mon
        ("0 0/15 * * * ?", utc(2024, 1, 1, 0, 50), utc(2024, 1, 1, 1, 0)),
        ("0 0/15 * * * ?", utc(2024, 1, 1, 0, 15), utc(2024, 1, 1, 0, 30)),  # strictly after
        ("0 0 2 L * ?", NEW_YEAR, utc(2024, 1, 31, 2)),
        ("0 0 2 L * ?", utc(2024, 2, 1), utc(2024, 2, 29, 2)),  # leap year
        ("0 0 12 ? * 1", NEW_YEAR, utc(2024, 1, 7, 12)),  # 1 = SUN
        ("0 0 12 ? * 2", NEW_YEAR, utc(2024, 1, 1, 12)),  # 2 = MON
        ("0 0 12 ? * 7", NEW_YEAR, utc(2024, 1, 6, 12)),  # 7 = SAT
        ("0 0 12 ? * 1,7", utc(2024, 1, 6, 13), utc(2024, 1, 7, 12)),
        ("0 0 12 ? * 2-6/2", utc(2024, 1, 1, 13), utc(2024, 1, 3, 12)),  # MON, WED, FRI
        ("0 0 12 ? * L", NEW_YEAR, utc(2024, 1, 6, 12)),  # lone L = SAT
        ("0 0 12 ? * 6L", NEW_YEAR, utc(2024, 1, 26, 12)),  # last Friday
        ("0 0 12 ? * FRI#3", NEW_YEAR, utc(2024, 1, 19, 12)),
        ("0 0 12 ? * 6#3", NEW_YEAR, utc(2024, 1, 19, 12)),
        ("0 0 12 1W * ?", utc(2024, 5, 15), utc(2024, 6, 3, 12)),  # Jun 1 is a Saturday
        ("15 10 8 1 JAN,jul ?", NEW_YEAR, utc(2024, 1, 1, 8, 10, 15)),
        ("0 0 0 1 1 ? 2030", NEW_YEAR, utc(2030, 1, 1)),
        ("0 0 0 29 2 ?", utc(2024, 3, 1), utc(2028, 2, 29)),
    ],
)
def test_next_fire_time_utc(expr: str, after: datetime, expected: datetime) -> None:
    assert quartz_error(expr) is None
    assert next_fire_time(expr, "UTC", after) == expected


def test_next_fire_time_in_a_time_zone() -> None:
    # Sun 2023-12-31 16:00 PST; the next weekday 06:30 PST is Mon 14:30 UTC.
    fire = next_fire_time("0 30 6 ? * MON-FRI", "America/Los_Angeles", NEW_YEAR)
    assert fire == utc(2024, 1, 1, 14, 30)
    assert fire.tzinfo is UTC


def test_summer_time_shifts_the_utc_fire_time() -> None:
    after = utc(2024, 7, 1)
    assert next_fire_time("0 0 9 * * ?", "Europe/Berlin", after) == utc(2024, 7, 1, 7)


def test_repeated_wall_clock_time_fires_once() -> None:
    # New York falls back at 02:00 EDT on 2024-11-03: 01:30 happens at 05:30 and 06:30 UTC.
    first = next_fire_time("0 30 1 * * ?", "America/New_York", utc(2024, 11, 3))
    assert first == utc(2024, 11, 3, 5, 30)
    assert next_fire_time("0 30 1 * * ?", "America/New_York", first) == utc(2024, 11, 4, 6, 30)


def test_missing_wall_clock_time_fires_at_the_end_of_the_gap() -> None:
    # 02:30 does not exist in New York on 2024-03-10 (02:00 EST -> 03:00 EDT = 07:00 UTC).
    assert next_fire_time("0 30 2 * * ?", "America/New_York", utc(2024, 3, 10)) == utc(
        2024, 3, 10, 7
    )


def test_naive_after_means_utc() -> None:
    assert next_fire_time("0 0 * * * ?", "UTC", datetime(2024, 1, 1, 0, 30)) == utc(2024, 1, 1, 1)


@pytest.mark.parametrize("expr", ["0 0 2 LW * ?", "0 0 2 L-3 * ?"])
def test_quartz_features_croniter_lacks_are_valid_but_not_supported(expr: str) -> None:
    assert quartz_error(expr) is None
    with pytest.raises(NotSupported, match="not supported"):
        next_fire_time(expr, "UTC", NEW_YEAR)


def test_a_schedule_in_the_past_never_fires() -> None:
    with pytest.raises(NoFireTime, match="does not fire after"):
        next_fire_time("0 0 0 1 1 ? 2020", "UTC", NEW_YEAR)


def test_next_fire_time_rejects_invalid_input() -> None:
    with pytest.raises(SpecError) as caught:
        next_fire_time("0 0 * * * *", "Nowhere/City", NEW_YEAR)
    assert [i.path for i in caught.value.issues] == ["quartz_cron_expression", "timezone_id"]


@pytest.mark.parametrize(
    ("expr", "reason"),
    [
        ("* * * * *", "expected 6 or 7 fields"),
        ("0 0 0 1 1 ? 2024 1", "expected 6 or 7 fields"),
        ("0 0 12 * * *", "exactly one of day-of-month and day-of-week must be '?'"),
        ("0 0 12 ? * ?", "exactly one of day-of-month and day-of-week must be '?'"),
        ("0 ? 12 * * ?", "minute field '?': '?' is only allowed in day-of-month or day-of-week"),
        ("60 0 12 * * ?", "second field '60': 60 is out of range 0-59"),
        ("0 0 24 * * ?", "hour field '24': 24 is out of range 0-23"),
        ("0 0 12 0 * ?", "day-of-month field '0': 0 is out of range 1-31"),
        ("0 0 12 ? 13 *", "month field '13': 13 is out of range 1-12"),
        ("0 0 12 ? * 0", "day-of-week field '0': 0 is out of range 1-7"),
        ("0 0 12 ? * 8", "day-of-week field '8': 8 is out of range 1-7"),
        ("0 0 12 ? * MOM", "'MOM' is not one of SUN, MON, TUE, WED, THU, FRI, SAT"),
        ("0 0 12 ? JUN-MON *", "'MON' is not one of JAN"),
        ("0 0/0 * * * ?", "step '0' must be 1-60"),
        ("0 0 12 L,3 * ?", "'L' must be the only value in the field"),
        ("0 0 12 ? * FRI#6", "the n in 'day#n' must be 1-5"),
        ("0 0 12 L-31 * ?", "the offset in 'L-n' must be at most 30"),
        ("0 0 12 32W * ?", "32 is out of range 1-31"),
        ("0 0 12 * * ? 1969", "year field '1969': 1969 is out of range 1970-2099"),
        ("0 0 12 ** * ?", "'**' is not a value, range (a-b), step (a/n) or list"),
        ("0 0 12 1,,2 * ?", "'' is not a value"),
    ],
)
def test_quartz_error_reasons(expr: str, reason: str) -> None:
    error = quartz_error(expr)
    assert error is not None and reason in error


def test_timezone_error() -> None:
    assert timezone_error("UTC") is None
    assert timezone_error("America/Los_Angeles") is None
    assert timezone_error("Mars/Olympus") == (
        "unknown time zone 'Mars/Olympus' (use an id like 'UTC' or 'Europe/Berlin')"
    )
    assert timezone_error("../etc/passwd") is not None


SUN_TO_SAT = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]


@given(
    second=st.integers(0, 59),
    minute=st.integers(0, 59),
    hour=st.integers(0, 23),
    days=st.sets(st.integers(1, 7), min_size=1),
    names=st.booleans(),
    after=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1)),
)
def test_fire_times_match_their_fields(
    second: int, minute: int, hour: int, days: set[int], names: bool, after: datetime
) -> None:
    dow = ",".join(SUN_TO_SAT[d - 1] if names else str(d) for d in sorted(days))
    expr = f"{second} {minute} {hour} ? * {dow}"
    assert quartz_error(expr) is None
    start = after.replace(tzinfo=UTC)
    # Oracle: the first matching time on one of the next eight days.
    candidates = (
        datetime.combine(start.date() + timedelta(days=n), time(hour, minute, second), UTC)
        for n in range(8)
    )
    expected = next(c for c in candidates if c > start and c.isoweekday() % 7 + 1 in days)
    assert next_fire_time(expr, "UTC", after) == expected
