"""A job's trigger in words, and the next fire time the jobs page shows."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from headrace.ui.cron_words import describe_quartz, describe_trigger, next_fire_ms


@pytest.mark.parametrize(
    ("expr", "words"),
    [
        ("0 0 2 * * ?", "At 02:00, every day"),
        ("0 30 9 ? * MON-FRI", "At 09:30, Monday through Friday"),
        ("0 0 12 ? * 2", "At 12:00, only on Monday"),  # Quartz: 1 = Sunday, 2 = Monday
        ("0 0/15 * * * ?", "Every 15 minutes, every day"),
        ("0 0 0 L * ?", "At 00:00, on the last day of the month"),
        ("0 0 6 ? * 6L", "At 06:00, on the last Friday of the month"),
        ("0 0 0 1 1 ? 2030", "At 00:00, on day 1 of the month, only in January, only in 2030"),
    ],
)
def test_quartz_in_words(expr: str, words: str) -> None:
    assert describe_quartz(expr) == words


def test_an_unreadable_expression_is_shown_as_is() -> None:
    assert describe_quartz("not a cron") == "not a cron"


def test_triggers_in_words() -> None:
    cron = {"quartz_cron_expression": "0 0 2 * * ?", "timezone_id": "Europe/Paris"}
    assert describe_trigger({"schedule": cron}) == "At 02:00, every day (Europe/Paris)"
    assert describe_trigger({"trigger": {"periodic": {"interval": 1, "unit": "HOURS"}}}) == (
        "Every hour"
    )
    assert describe_trigger({"trigger": {"periodic": {"interval": 3, "unit": "DAYS"}}}) == (
        "Every 3 days"
    )
    assert describe_trigger({"trigger": {"file_arrival": {"url": "/data/in/"}}}) == (
        "When files arrive in /data/in/"
    )
    assert describe_trigger({"continuous": {}}).startswith("Continuous")
    assert describe_trigger({}) == "Manual"


def test_next_fire_time_follows_the_time_zone_and_pause() -> None:
    cron = {"quartz_cron_expression": "0 0 2 * * ?", "timezone_id": "Europe/Paris"}
    noon = int(datetime(2026, 1, 10, 12, 0, tzinfo=UTC).timestamp() * 1000)
    fire = next_fire_ms({"schedule": cron}, noon)
    assert fire == int(datetime(2026, 1, 11, 1, 0, tzinfo=UTC).timestamp() * 1000)  # 02:00 CET
    assert next_fire_ms({"schedule": {**cron, "pause_status": "PAUSED"}}, noon) is None
    assert next_fire_ms({}, noon) is None


def test_next_fire_time_moves_on_once_the_fire_time_passes() -> None:
    cron = {"schedule": {"quartz_cron_expression": "0 30 6 * * ?", "timezone_id": "UTC"}}

    def ms(day: int, hour: int, minute: int = 0) -> int:
        return int(datetime(2026, 3, day, hour, minute, tzinfo=UTC).timestamp() * 1000)

    assert next_fire_ms(cron, ms(1, 5)) == ms(1, 6, 30)
    assert next_fire_ms(cron, ms(1, 6)) == ms(1, 6, 30)  # answered again, same fire time
    assert next_fire_ms(cron, ms(1, 6, 30)) == ms(2, 6, 30)  # at the fire time: the next one
    assert next_fire_ms(cron, ms(1, 5)) == ms(1, 6, 30)  # an earlier clock still gets its own
