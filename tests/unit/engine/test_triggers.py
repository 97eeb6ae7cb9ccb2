"""Trigger decisions, pure: cron (DST, Quartz specials, pause, missed ticks), periodic, file
arrival (batches, quiet period, cooldown, overwrites) and continuous (backoff)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from headrace.engine.trigger_rules import (
    CRON_MIN_GAP_MS,
    MAX_LISTED_FILES,
    BatchTimes,
    Decision,
    EndedRun,
    FileStat,
    batch_decision,
    batch_due,
    continuous_backoff_ms,
    decide_continuous,
    decide_cron,
    decide_file_arrival,
    decide_periodic,
    paused_decision,
    remembered_times,
    trigger_of,
)
from headrace.errors import NotSupported
from headrace.spec.job_parts import CronSchedule, FileArrivalTrigger, PeriodicTrigger

SECOND, MINUTE, HOUR, DAY = 1000, 60_000, 3_600_000, 86_400_000


def ms(*args: int) -> int:
    moment = datetime(*args, tzinfo=UTC)  # type: ignore[misc]
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)


def iso(epoch_ms: int) -> str:
    moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=epoch_ms)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def cron(expr: str, tz: str = "UTC", paused: bool = False) -> CronSchedule:
    return CronSchedule(
        quartz_cron_expression=expr,
        timezone_id=tz,
        pause_status="PAUSED" if paused else "UNPAUSED",
    )


def fires(schedule: CronSchedule, start: int, until: int) -> list[str]:
    """UTC fire times of a schedule enabled at `start`, with the loop waking exactly when the
    previous decision asked, until `until`."""
    state: dict[str, Any] = {}
    now, out = start, []
    while now <= until:
        decision = decide_cron(schedule, state, now, start)
        if decision.fire is not None:
            out.append(iso(decision.fire.trigger_info["scheduled_time"]))
            assert decision.fire.trigger_type == "PERIODIC"
        state = decision.state
        assert decision.next_check_ms is not None and decision.next_check_ms > now
        now = decision.next_check_ms
    return out


# --- cron: daylight saving time ----------------------------------------------------------------


def test_daily_cron_across_paris_spring_forward() -> None:
    # 2024-03-31 02:00 CET -> 03:00 CEST: 02:30 does not exist, it fires at the gap's end.
    got = fires(cron("0 30 2 * * ?", "Europe/Paris"), ms(2024, 3, 29), ms(2024, 4, 1, 12))
    assert got == [
        "2024-03-29 01:30:00",  # 02:30 CET
        "2024-03-30 01:30:00",
        "2024-03-31 01:00:00",  # 03:00 CEST, the end of the gap
        "2024-04-01 00:30:00",  # 02:30 CEST
    ]


def test_daily_cron_across_paris_fall_back_fires_once() -> None:
    # 2024-10-27 03:00 CEST -> 02:00 CET: 02:30 happens twice; it fires the first time only.
    got = fires(cron("0 30 2 * * ?", "Europe/Paris"), ms(2024, 10, 25), ms(2024, 10, 28, 12))
    assert got == [
        "2024-10-25 00:30:00",
        "2024-10-26 00:30:00",
        "2024-10-27 00:30:00",  # 02:30 CEST; not again at 01:30 UTC (02:30 CET)
        "2024-10-28 01:30:00",
    ]


def test_hourly_cron_in_paris_around_both_changes() -> None:
    spring = fires(cron("0 0 * * * ?", "Europe/Paris"), ms(2024, 3, 30, 23, 30), ms(2024, 3, 31, 3))
    assert spring == [
        "2024-03-31 00:00:00",  # 01:00 CET
        "2024-03-31 01:00:00",  # 03:00 CEST (02:00 does not exist)
        "2024-03-31 02:00:00",
        "2024-03-31 03:00:00",
    ]
    fall = fires(cron("0 0 * * * ?", "Europe/Paris"), ms(2024, 10, 26, 23, 30), ms(2024, 10, 27, 3))
    # 02:00 local happens twice (00:00 and 01:00 UTC): one run; UTC avoids this (reference 6.12).
    assert fall == ["2024-10-27 00:00:00", "2024-10-27 02:00:00", "2024-10-27 03:00:00"]


def test_daily_cron_across_new_york_changes() -> None:
    spring = fires(cron("0 30 2 * * ?", "America/New_York"), ms(2024, 3, 9), ms(2024, 3, 11, 12))
    assert spring == ["2024-03-09 07:30:00", "2024-03-10 07:00:00", "2024-03-11 06:30:00"]
    fall = fires(cron("0 30 1 * * ?", "America/New_York"), ms(2024, 11, 2), ms(2024, 11, 4, 12))
    assert fall == ["2024-11-02 05:30:00", "2024-11-03 05:30:00", "2024-11-04 06:30:00"]


def test_weekday_cron_keeps_local_time_over_dst() -> None:
    got = fires(cron("0 0 9 ? * MON-FRI", "America/New_York"), ms(2024, 3, 7), ms(2024, 3, 12))
    assert got == [
        "2024-03-07 14:00:00",  # Thu, EST
        "2024-03-08 14:00:00",  # Fri
        "2024-03-11 13:00:00",  # Mon, EDT
    ]


# --- cron: Quartz specials ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "start", "until", "expected"),
    [
        # L: last day of the month (leap February)
        (
            "0 0 2 L * ?",
            ms(2024, 1, 15),
            ms(2024, 4, 1),
            ["2024-01-31 02:00:00", "2024-02-29 02:00:00", "2024-03-31 02:00:00"],
        ),
        # nW: the weekday nearest the 15th (Sat 2024-06-15 -> Fri 14th; Mon 2024-07-15)
        (
            "0 0 12 15W * ?",
            ms(2024, 6, 1),
            ms(2024, 8, 1),
            ["2024-06-14 12:00:00", "2024-07-15 12:00:00"],
        ),
        # 1W never leaves the month: Sat 2024-06-01 -> Mon 3rd
        ("0 0 12 1W * ?", ms(2024, 5, 31), ms(2024, 6, 30), ["2024-06-03 12:00:00"]),
        # #: the third Friday (6 = FRI)
        (
            "0 0 12 ? * 6#3",
            ms(2024, 1, 1),
            ms(2024, 3, 1),
            ["2024-01-19 12:00:00", "2024-02-16 12:00:00"],
        ),
        # nL in day-of-week: the last Friday
        ("0 0 12 ? * 6L", ms(2024, 1, 1), ms(2024, 2, 1), ["2024-01-26 12:00:00"]),
        # 1-7 = SUN-SAT: 1 is Sunday, 7 is Saturday
        (
            "0 0 12 ? * 1,7",
            ms(2024, 1, 1),
            ms(2024, 1, 14),
            ["2024-01-06 12:00:00", "2024-01-07 12:00:00", "2024-01-13 12:00:00"],
        ),
        # 2-6 = MON-FRI
        (
            "0 0 6 ? * 2-6",
            ms(2024, 1, 5),
            ms(2024, 1, 9),
            ["2024-01-05 06:00:00", "2024-01-08 06:00:00"],
        ),
        # the seconds field and an optional year
        ("30 15 10 1 1 ? 2025", ms(2024, 6, 1), ms(2026, 6, 1), ["2025-01-01 10:15:30"]),
    ],
)
def test_quartz_specials(expr: str, start: int, until: int, expected: list[str]) -> None:
    got = fires(cron(expr), start, until) if "2025" not in expr else _until_exhausted(expr, start)
    assert got == expected


def _until_exhausted(expr: str, start: int) -> list[str]:
    """Fire times of a schedule that ends (a year field): the last decision raises."""
    from headrace.spec.cron import NoFireTime

    state: dict[str, Any] = {}
    now, out = start, []
    while True:
        try:
            decision = decide_cron(cron(expr), state, now, start)
        except NoFireTime:
            return out
        if decision.fire is not None:
            out.append(iso(decision.fire.trigger_info["scheduled_time"]))
        if decision.next_check_ms is None:
            return out
        state, now = decision.state, decision.next_check_ms


def test_quartz_features_croniter_lacks_raise_not_supported() -> None:
    with pytest.raises(NotSupported):
        decide_cron(cron("0 0 2 LW * ?"), {}, ms(2024, 1, 1), ms(2024, 1, 1))


# --- cron: enablement, missed ticks, pause, minimum gap ---------------------------------------


def test_first_look_waits_for_the_next_fire_time() -> None:
    now = ms(2024, 1, 1, 0, 30)
    decision = decide_cron(cron("0 0 * * * ?"), {}, now, now)
    assert decision.fire is None
    assert decision.next_check_ms == ms(2024, 1, 1, 1)
    assert decision.state["cursor"] == now


def test_a_fire_time_between_saving_and_first_look_still_fires() -> None:
    # Saved at 00:59:58, first seen at 01:00:03: the 01:00 run is owed.
    decision = decide_cron(
        cron("0 0 * * * ?"), {}, ms(2024, 1, 1, 1, 0, 3), ms(2024, 1, 1, 0, 59, 58)
    )
    assert decision.fire is not None
    assert decision.fire.trigger_info["scheduled_time"] == ms(2024, 1, 1, 1)


def test_fire_is_not_repeated_for_the_same_state() -> None:
    schedule = cron("0 0 * * * ?")
    first = decide_cron(schedule, {}, ms(2024, 1, 1, 1, 0, 1), ms(2024, 1, 1, 0, 30))
    assert first.fire is not None
    again = decide_cron(schedule, first.state, ms(2024, 1, 1, 1, 0, 2), ms(2024, 1, 1, 0, 30))
    assert again.fire is None
    assert again.state == first.state
    assert again.next_check_ms == ms(2024, 1, 1, 2)


def test_missed_ticks_after_downtime_give_exactly_one_catch_up_run() -> None:
    schedule = cron("0 0 6 * * ?")  # daily 06:00
    state = {"kind": "cron", "key": "0 0 6 * * ? @ UTC", "cursor": ms(2024, 1, 1, 6)}
    now = ms(2024, 1, 6, 9)  # down for five days: 2nd..6th 06:00 missed
    decision = decide_cron(schedule, state, now, 0)
    assert decision.fire is not None
    info = decision.fire.trigger_info
    assert info["scheduled_time"] == ms(2024, 1, 6, 6)  # the latest missed one
    assert info["missed_fire_times_since"] == ms(2024, 1, 2, 6)
    assert decision.next_check_ms == ms(2024, 1, 7, 6)
    again = decide_cron(schedule, decision.state, now + SECOND, 0)
    assert again.fire is None


def test_a_year_of_downtime_on_a_per_minute_schedule_is_one_cheap_catch_up() -> None:
    schedule = cron("0 * * * * ?")
    state = {"kind": "cron", "key": "0 * * * * ? @ UTC", "cursor": ms(2023, 1, 1)}
    began = time.perf_counter()
    decision = decide_cron(schedule, state, ms(2024, 1, 1, 0, 0, 30), 0)
    assert time.perf_counter() - began < 1.0
    assert decision.fire is not None
    assert decision.fire.trigger_info["scheduled_time"] == ms(2024, 1, 1)
    assert decision.fire.trigger_info["missed_fire_times_since"] == ms(2023, 1, 1, 0, 1)


def test_a_late_tick_is_not_a_catch_up() -> None:
    decision = decide_cron(
        cron("0 0 * * * ?"), {"kind": "cron", "key": "0 0 * * * ? @ UTC", "cursor": 0}, 0, 0
    )
    assert decision.fire is None
    state = {"kind": "cron", "key": "0 0 * * * ? @ UTC", "cursor": ms(2024, 1, 1, 0, 30)}
    late = decide_cron(cron("0 0 * * * ?"), state, ms(2024, 1, 1, 1, 0, 4), 0)
    assert late.fire is not None
    assert "missed_fire_times_since" not in late.fire.trigger_info


def test_paused_schedule_never_fires_and_unpausing_owes_nothing() -> None:
    start = ms(2024, 1, 1)
    paused = decide_cron(cron("0 0 * * * ?", paused=True), {}, start, start)
    assert paused.fire is None and paused.next_check_ms is None
    assert paused.state["paused"] is True
    # Still paused hours later: nothing.
    later = decide_cron(cron("0 0 * * * ?", paused=True), paused.state, start + 5 * HOUR, start)
    assert later.fire is None
    # Unpaused (saved) at 05:30, seen at 05:30:01: the paused hours are not caught up.
    unpaused_at = start + 5 * HOUR + 30 * MINUTE
    resumed = decide_cron(cron("0 0 * * * ?"), later.state, unpaused_at + SECOND, unpaused_at)
    assert resumed.fire is None
    assert resumed.next_check_ms == start + 6 * HOUR
    assert "paused" not in resumed.state


def test_changing_the_expression_starts_over() -> None:
    old = {"kind": "cron", "key": "0 0 * * * ? @ UTC", "cursor": ms(2023, 1, 1)}
    now = ms(2024, 1, 1, 0, 30)
    decision = decide_cron(cron("0 0 12 * * ?"), old, now, now)
    assert decision.fire is None  # no catch-up from the old schedule's cursor
    assert decision.next_check_ms == ms(2024, 1, 1, 12)


def test_schedule_triggered_runs_are_at_least_ten_seconds_apart() -> None:
    got = fires(cron("* * * * * ?"), ms(2024, 1, 1), ms(2024, 1, 1, 0, 0, 45))
    assert got == [
        "2024-01-01 00:00:01",
        "2024-01-01 00:00:11",
        "2024-01-01 00:00:21",
        "2024-01-01 00:00:31",
        "2024-01-01 00:00:41",
    ]
    assert CRON_MIN_GAP_MS == 10 * SECOND


# --- periodic ------------------------------------------------------------------------------------


def test_periodic_fires_at_enablement_then_every_interval() -> None:
    every = PeriodicTrigger(interval=2, unit="HOURS")
    t0 = ms(2024, 1, 1, 10)
    first = decide_periodic(every, {}, t0, t0, paused=False)
    assert first.fire is not None
    assert first.fire.trigger_type == "PERIODIC"
    assert first.fire.trigger_info == {
        "periodic": {"interval": 2, "unit": "HOURS"},
        "scheduled_time": t0,
    }
    assert first.next_check_ms == t0 + 2 * HOUR
    between = decide_periodic(every, first.state, t0 + HOUR, t0, paused=False)
    assert between.fire is None and between.next_check_ms == t0 + 2 * HOUR
    second = decide_periodic(every, between.state, t0 + 2 * HOUR + 5, t0, paused=False)
    assert second.fire is not None
    assert second.fire.trigger_info["scheduled_time"] == t0 + 2 * HOUR


@pytest.mark.parametrize(
    ("unit", "length"), [("MINUTES", MINUTE), ("DAYS", DAY), ("WEEKS", 7 * DAY)]
)
def test_periodic_units(unit: str, length: int) -> None:
    every = PeriodicTrigger(interval=3, unit=unit)  # type: ignore[arg-type]
    first = decide_periodic(every, {}, 0, 0, paused=False)
    assert first.next_check_ms == 3 * length


def test_periodic_missed_slots_give_one_catch_up_run() -> None:
    every = PeriodicTrigger(interval=1, unit="HOURS")
    t0 = ms(2024, 1, 1)
    state = {"kind": "periodic", "key": "1 HOURS", "anchor": t0, "cursor": t0}
    decision = decide_periodic(every, state, t0 + 5 * HOUR + 30 * MINUTE, t0, paused=False)
    assert decision.fire is not None
    assert decision.fire.trigger_info["scheduled_time"] == t0 + 5 * HOUR
    assert decision.fire.trigger_info["missed_fire_times_since"] == t0 + HOUR
    assert decision.next_check_ms == t0 + 6 * HOUR


def test_periodic_pause_and_resume_owes_nothing() -> None:
    every = PeriodicTrigger(interval=1, unit="HOURS")
    t0 = ms(2024, 1, 1)
    first = decide_periodic(every, {}, t0, t0, paused=False)
    paused = decide_periodic(every, first.state, t0 + 3 * HOUR, t0, paused=True)
    assert paused.fire is None and paused.next_check_ms is None
    resumed_at = t0 + 5 * HOUR + 10 * MINUTE
    resumed = decide_periodic(every, paused.state, resumed_at + 1, resumed_at, paused=False)
    assert resumed.fire is None
    assert resumed.next_check_ms == t0 + 6 * HOUR  # the grid from the first enablement


def test_periodic_new_interval_re_anchors() -> None:
    t0 = ms(2024, 1, 1)
    state = {"kind": "periodic", "key": "1 HOURS", "anchor": t0, "cursor": t0}
    now = t0 + 30 * MINUTE
    decision = decide_periodic(
        PeriodicTrigger(interval=1, unit="DAYS"), state, now, now, paused=False
    )
    assert decision.fire is not None
    assert decision.state["anchor"] == now


# --- file arrival --------------------------------------------------------------------------------

T0 = ms(2024, 5, 1, 12)
URL = "/data/landing"


def watch(
    wait: int | None = None, cooldown: int | None = None, url: str = URL
) -> FileArrivalTrigger:
    return FileArrivalTrigger(
        url=url, wait_after_last_change_seconds=wait, min_time_between_triggers_seconds=cooldown
    )


def files(*names: str, at: int = T0 - HOUR, size: int = 1) -> dict[str, FileStat]:
    return {f"{URL}/{n}": FileStat(size, at) for n in names}


def look(
    listing: dict[str, FileStat],
    state: dict[str, Any],
    now: int,
    settings: FileArrivalTrigger | None = None,
    **kw: Any,
) -> Decision:
    kw.setdefault("enabled_at", T0)
    return decide_file_arrival(listing, state, now, settings or watch(), **kw)


def fired_files(decision: Decision) -> list[str] | None:
    if decision.fire is None:
        return None
    assert decision.fire.trigger_type == "FILE_ARRIVAL"
    assert decision.fire.trigger_info["file_arrival"]["location"] == URL
    return [p.rsplit("/", 1)[1] for p in decision.fire.trigger_info["file_arrival"]["files"]]


def test_first_look_records_existing_files_without_firing() -> None:
    decision = look(files("a.csv", "b.csv"), {}, T0 + SECOND, poll_ms=1000)
    assert decision.fire is None
    assert decision.state["seen"] == [f"{URL}/a.csv", f"{URL}/b.csv"]
    assert decision.next_check_ms == T0 + 2 * SECOND


def test_files_written_after_enablement_but_before_the_first_look_are_new() -> None:
    listing = {**files("old.csv"), **files("new.csv", at=T0 + 500)}
    decision = look(listing, {}, T0 + 2 * SECOND)
    assert fired_files(decision) == ["new.csv"]


def test_a_new_file_fires_exactly_once() -> None:
    start = look(files("a.csv"), {}, T0 + SECOND)
    listing = {**files("a.csv"), **files("b.csv", at=T0 + 2 * SECOND)}
    fired = look(listing, start.state, T0 + 3 * SECOND)
    assert fired_files(fired) == ["b.csv"]
    again = look(listing, fired.state, T0 + 4 * SECOND)
    assert again.fire is None
    assert again.state == fired.state  # nothing to write


def test_files_arriving_together_are_one_batch() -> None:
    start = look({}, {}, T0 + SECOND)
    listing = files("x/1.json", "x/2.json", "y/3.json", at=T0 + 2 * SECOND)
    assert fired_files(look(listing, start.state, T0 + 3 * SECOND)) == [
        "1.json",
        "2.json",
        "3.json",
    ]


def test_a_huge_batch_names_the_first_files_and_counts_them_all() -> None:
    start = look({}, {}, T0)
    listing = files(*(f"{i:05}.json" for i in range(MAX_LISTED_FILES + 5)), at=T0 + 1)
    decision = look(listing, start.state, T0 + SECOND)
    assert decision.fire is not None
    arrival = decision.fire.trigger_info["file_arrival"]
    assert len(arrival["files"]) == MAX_LISTED_FILES
    assert arrival["file_count"] == MAX_LISTED_FILES + 5
    assert len(decision.state["seen"]) == MAX_LISTED_FILES + 5


def test_quiet_period_waits_for_the_last_new_file() -> None:
    settings = watch(wait=30)
    state = look({}, {}, T0 + SECOND, settings).state
    one = files("1.csv", at=T0 + 2 * SECOND)
    d = look(one, state, T0 + 2 * SECOND, settings)
    assert d.fire is None
    assert d.next_check_ms == T0 + 3 * SECOND  # keeps polling meanwhile
    d = look(one, d.state, T0 + 20 * SECOND, settings)
    assert d.fire is None
    two = {**one, **files("2.csv", at=T0 + 22 * SECOND)}
    d = look(two, d.state, T0 + 22 * SECOND, settings)  # resets the quiet period
    assert d.fire is None
    d = look(two, d.state, T0 + 40 * SECOND, settings)
    assert d.fire is None  # 30 s after 1.csv, but only 18 s after 2.csv
    d = look(two, d.state, T0 + 52 * SECOND, settings, poll_ms=60_000)
    assert fired_files(d) == ["1.csv", "2.csv"]


def test_quiet_period_next_check_is_when_it_ends_if_sooner_than_a_poll() -> None:
    settings = watch(wait=5)
    state = look({}, {}, T0, settings).state
    d = look(files("1.csv", at=T0 + 1), state, T0 + SECOND, settings, poll_ms=60_000)
    assert d.fire is None
    assert d.next_check_ms == T0 + 6 * SECOND


def test_a_pending_file_still_growing_resets_the_quiet_period() -> None:
    settings = watch(wait=10)
    state = look({}, {}, T0, settings).state
    d = look(files("big.bin", at=T0 + SECOND, size=10), state, T0 + SECOND, settings)
    d = look(files("big.bin", at=T0 + 8 * SECOND, size=500), d.state, T0 + 8 * SECOND, settings)
    d = look(files("big.bin", at=T0 + 8 * SECOND, size=500), d.state, T0 + 12 * SECOND, settings)
    assert d.fire is None  # 11 s after it appeared, 4 s after it last changed
    d = look(files("big.bin", at=T0 + 8 * SECOND, size=500), d.state, T0 + 18 * SECOND, settings)
    assert fired_files(d) == ["big.bin"]


def test_cooldown_holds_new_files_until_it_ends() -> None:
    settings = watch(cooldown=60)
    state = look({}, {}, T0, settings).state
    first = look(files("1.csv", at=T0 + 1), state, T0 + SECOND, settings)
    assert fired_files(first) == ["1.csv"]
    listing = {**files("1.csv", at=T0 + 1), **files("2.csv", "3.csv", at=T0 + 5 * SECOND)}
    held = look(listing, first.state, T0 + 5 * SECOND, settings, poll_ms=1000)
    assert held.fire is None
    held = look(listing, held.state, T0 + 60 * SECOND, settings, poll_ms=1000)
    assert held.fire is None
    released = look(listing, held.state, T0 + 61 * SECOND, settings)
    assert fired_files(released) == ["2.csv", "3.csv"]


def test_cooldown_and_quiet_period_together() -> None:
    settings = watch(wait=10, cooldown=30)
    state = look({}, {}, T0, settings).state
    d = look(files("1", at=T0 + 1), state, T0 + SECOND, settings)
    d = look(files("1", at=T0 + 1), d.state, T0 + 11 * SECOND, settings)
    assert fired_files(d) == ["1"]
    listing = {**files("1", at=T0 + 1), **files("2", at=T0 + 12 * SECOND)}
    d = look(listing, d.state, T0 + 12 * SECOND, settings, poll_ms=60_000)
    assert d.next_check_ms == T0 + 41 * SECOND  # the cooldown ends after the quiet period
    d = look(listing, d.state, T0 + 41 * SECOND, settings)
    assert fired_files(d) == ["2"]


def test_overwriting_a_seen_file_does_not_fire() -> None:
    start = look(files("a.csv"), {}, T0 + SECOND)
    rewritten = files("a.csv", at=T0 + 5 * SECOND, size=999)
    d = look(rewritten, start.state, T0 + 6 * SECOND)
    assert d.fire is None
    assert d.state == start.state


def test_deleting_and_recreating_a_file_fires() -> None:
    start = look(files("a.csv"), {}, T0 + SECOND)
    gone = look({}, start.state, T0 + 2 * SECOND)
    assert gone.fire is None and gone.state["seen"] == []
    back = look(files("a.csv", at=T0 + 3 * SECOND), gone.state, T0 + 3 * SECOND)
    assert fired_files(back) == ["a.csv"]


def test_a_pending_file_deleted_before_firing_is_dropped() -> None:
    settings = watch(wait=10)
    state = look({}, {}, T0, settings).state
    d = look(files("tmp.part", at=T0 + 1), state, T0 + SECOND, settings)
    d = look({}, d.state, T0 + 2 * SECOND, settings)
    d = look({}, d.state, T0 + 30 * SECOND, settings)
    assert d.fire is None
    assert d.state["pending"] == {}


def test_paused_file_arrival_never_fires_and_forgets_what_came_meanwhile() -> None:
    start = look(files("a"), {}, T0 + SECOND)
    paused = look(files("a", "b", at=T0 + 2 * SECOND), start.state, T0 + 3 * SECOND, paused=True)
    assert paused.fire is None and paused.next_check_ms is None
    unpaused_at = T0 + 10 * SECOND
    listing = {**files("a", "b", at=T0 + 2 * SECOND), **files("c", at=T0 + 11 * SECOND)}
    resumed = look(listing, paused.state, T0 + 12 * SECOND, enabled_at=unpaused_at)
    assert fired_files(resumed) == ["c"]


def test_a_new_url_starts_over() -> None:
    start = look(files("a"), {}, T0 + SECOND)
    other = "/data/other"
    listing = {f"{other}/z": FileStat(1, T0 - HOUR)}
    d = look(listing, start.state, T0 + 2 * SECOND, watch(url=other), enabled_at=T0 + SECOND)
    assert d.fire is None
    assert d.state["key"] == other and d.state["seen"] == [f"{other}/z"]


def test_files_without_mtime_are_existing_on_first_look() -> None:
    d = look({f"{URL}/a": FileStat(None, None)}, {}, T0 + SECOND)
    assert d.fire is None


# --- the steps file arrival and table update share ----------------------------------------------


def test_batch_timers_start_over_but_an_unpaused_trigger_keeps_its_cooldown() -> None:
    remembered = {"kind": "file_arrival", "key": URL, "last_change": 5, "last_fire": 7}
    assert remembered_times(remembered, "file_arrival", URL, changed=False, now=9) == (5, 7)
    assert remembered_times(remembered, "file_arrival", URL, changed=True, now=9) == (9, 7)
    unpaused = {**remembered, "paused": True}
    assert remembered_times(unpaused, "file_arrival", URL, changed=False, now=9) == (None, 7)
    for fresh in ({}, {**remembered, "key": "/other"}, {**remembered, "kind": "table_update"}):
        assert remembered_times(fresh, "file_arrival", URL, changed=False, now=9) == (None, None)
        assert remembered_times(fresh, "file_arrival", URL, changed=True, now=9) == (9, None)


def test_a_batch_is_due_when_both_timers_passed_and_the_next_look_is_the_sooner() -> None:
    settings = watch(wait=10, cooldown=60)
    assert batch_due(BatchTimes(T0, None), T0 + 5 * SECOND, settings) == (False, T0 + 10 * SECOND)
    assert batch_due(BatchTimes(T0, T0), T0 + 10 * SECOND, settings) == (False, T0 + MINUTE)
    assert batch_due(BatchTimes(T0, T0), T0 + MINUTE, settings) == (True, None)
    assert batch_due(BatchTimes(None, None), T0, watch()) == (True, None)
    new: dict[str, Any] = {"kind": "file_arrival"}
    d = batch_decision(None, new, BatchTimes(T0, None), T0 + 500, T0, poll_ms=1000)
    assert d == Decision(None, {"kind": "file_arrival", "last_change": T0}, T0 + 500)
    d = batch_decision(None, {}, BatchTimes(None, T0), None, T0, poll_ms=1000)
    assert d == Decision(None, {"last_fire": T0}, T0 + 1000)
    d = batch_decision(None, {}, BatchTimes(None, None), T0 + HOUR, T0, poll_ms=1000)
    assert d.next_check_ms == T0 + 1000


def test_paused_decision_starts_nothing_and_waits_for_new_settings() -> None:
    state = {"kind": "periodic", "key": "1 HOURS", "anchor": 1, "cursor": 2}
    d = paused_decision(state, "periodic", "1 HOURS")
    assert d == Decision(None, {**state, "paused": True}, None)
    assert paused_decision(state, "periodic", "2 HOURS").state == {
        "kind": "periodic",
        "key": "2 HOURS",
        "paused": True,
    }


# --- continuous ----------------------------------------------------------------------------------


def ended(*results: str | None, end: int = T0) -> list[EndedRun]:
    """Ended runs, newest first; the newest ended at `end`."""
    return [EndedRun(100 - i, r, end - i * MINUTE) for i, r in enumerate(results)]


def test_continuous_starts_a_run_when_none_ever_ran() -> None:
    d = decide_continuous(0, [], {}, T0)
    assert d.fire is not None
    assert d.fire.trigger_type == "CONTINUOUS"
    assert d.fire.trigger_info == {"continuous": {"consecutive_failures": 0}}
    assert d.state["last_start"] == T0


def test_continuous_keeps_exactly_one_active_run() -> None:
    d = decide_continuous(1, ended("SUCCESS"), {}, T0 + HOUR)
    assert d.fire is None
    assert d.next_check_ms is not None and d.next_check_ms > T0 + HOUR


def test_continuous_restarts_at_once_after_a_success() -> None:
    d = decide_continuous(0, ended("SUCCESS", "FAILED"), {}, T0)
    assert d.fire is not None
    assert d.fire.trigger_info["continuous"] == {"consecutive_failures": 0, "previous_run_id": 100}


def test_continuous_waits_the_least_interval_after_the_previous_start() -> None:
    """Issue 11: a run that ends at once is not followed sooner than 10 s after its start."""
    quick = [EndedRun(100, "SUCCESS", T0 + 200, T0)]
    early = decide_continuous(0, quick, {}, T0 + 200)
    assert early.fire is None and early.next_check_ms == T0 + 10 * SECOND
    assert decide_continuous(0, quick, {}, T0 + 10 * SECOND).fire is not None
    # The state's last start counts too (its run may be gone), and the figure is a setting.
    state = {"kind": "continuous", "last_start": T0}
    assert decide_continuous(0, [], state, T0 + SECOND).next_check_ms == T0 + 10 * SECOND
    custom = decide_continuous(0, quick, {}, T0 + 200, min_interval_ms=SECOND)
    assert custom.fire is None and custom.next_check_ms == T0 + SECOND
    # A run that lasted longer than the interval is followed at once.
    long = [EndedRun(100, "SUCCESS", T0 + HOUR, T0)]
    assert decide_continuous(0, long, {}, T0 + HOUR).fire is not None


@pytest.mark.parametrize(
    ("failures", "backoff_s"), [(1, 10), (2, 20), (3, 40), (4, 80), (5, 160), (6, 300), (9, 300)]
)
def test_continuous_backs_off_after_failures_in_a_row(failures: int, backoff_s: int) -> None:
    history = ended(*["FAILED"] * failures, "SUCCESS")
    assert continuous_backoff_ms(failures) == backoff_s * SECOND
    early = decide_continuous(0, history, {}, T0 + backoff_s * SECOND - 1)
    assert early.fire is None
    assert early.next_check_ms == T0 + backoff_s * SECOND
    due = decide_continuous(0, history, {}, T0 + backoff_s * SECOND)
    assert due.fire is not None
    assert due.fire.trigger_info["continuous"]["consecutive_failures"] == failures


@pytest.mark.parametrize("reset_by", ["SUCCESS", "SUCCESS_WITH_FAILURES", "CANCELED"])
def test_continuous_backoff_resets_after_a_success_or_cancel(reset_by: str) -> None:
    history = ended(reset_by, "FAILED", "TIMEDOUT", "INTERNAL_ERROR")
    assert decide_continuous(0, history, {}, T0).fire is not None


def test_timeouts_and_internal_errors_count_as_failures() -> None:
    d = decide_continuous(0, ended("TIMEDOUT", "INTERNAL_ERROR"), {}, T0 + 5 * SECOND)
    assert d.fire is None and d.next_check_ms == T0 + 20 * SECOND


def test_paused_continuous_starts_nothing() -> None:
    d = decide_continuous(0, [], {}, T0, paused=True)
    assert d.fire is None and d.next_check_ms is None


# --- which trigger a job has ---------------------------------------------------------------------


def test_trigger_of_settings() -> None:
    assert trigger_of({"name": "x", "tasks": []}) is None
    cron_job = trigger_of(
        {"schedule": {"quartz_cron_expression": "0 0 * * * ?", "timezone_id": "UTC"}}
    )
    assert cron_job is not None and cron_job.kind == "cron" and not cron_job.paused
    periodic = trigger_of(
        {"trigger": {"pause_status": "PAUSED", "periodic": {"interval": 1, "unit": "HOURS"}}}
    )
    assert periodic is not None and periodic.kind == "periodic" and periodic.paused
    files_job = trigger_of({"trigger": {"file_arrival": {"url": "/tmp/in"}}})
    assert files_job is not None and files_job.kind == "file_arrival"
    cont = trigger_of({"continuous": {"pause_status": "UNPAUSED"}})
    assert cont is not None and cont.kind == "continuous"
    bare = trigger_of({"continuous": {}})  # an empty block is a continuous job too
    assert bare is not None and bare.kind == "continuous" and not bare.paused
    table = trigger_of({"trigger": {"table_update": {"table_names": ["a.b.c"]}}})
    assert table is not None and table.kind == "table_update"
    other = trigger_of({"trigger": {"job_completion": {"jobs": [{"job_id": 1}]}}})
    assert other is not None and other.kind == "unsupported"


def test_trigger_signature_changes_with_pause_status() -> None:
    on = trigger_of({"continuous": {"pause_status": "UNPAUSED"}})
    off = trigger_of({"continuous": {"pause_status": "PAUSED"}})
    assert on is not None and off is not None and on.signature != off.signature
