"""The outbox on a real SQLite file and a real PostgreSQL: rows are written in the
coordinator's transaction, claimed under a lease by one sender at a time, and never marked
by a sender whose lease was taken over."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from headrace.engine.coordinator import AttemptOutcome, Coordinator
from headrace.notify.delivery import Sender
from headrace.notify.settings import NotifySettings
from headrace.spec.models import JobSettings
from headrace.states import Result
from headrace.store import notifications as outbox
from headrace.store.db import Store, open_store

LEASE_MS = 60_000


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    opened = open_store(db_url)
    try:
        yield opened
    finally:
        opened.dispose()


def job(**extra: object) -> JobSettings:
    return JobSettings.model_validate(
        {
            "name": "outbox",
            "tasks": [{"task_key": "a", "shell_command_task": {"command": "true"}}],
            **extra,
        }
    )


def rows(store: Store) -> list[outbox.Notification]:
    with store.read() as conn:
        return outbox.list_notifications(conn)


def finish_run(coordinator: Coordinator, result: Result) -> None:
    attempt = coordinator.claim_next_attempt("w", lambda a: "/dev/null")
    assert attempt is not None
    coordinator.finish_attempt(attempt, AttemptOutcome(result, error="boom\nsecond line"))


def test_a_run_without_notifications_writes_nothing(store: Store) -> None:
    coordinator = Coordinator(store, coordinator_id="w")
    coordinator.start_run(job(), job_id=None)
    finish_run(coordinator, Result.FAILED)
    assert rows(store) == []


def test_run_events_are_queued_with_the_state_change(store: Store) -> None:
    coordinator = Coordinator(store, coordinator_id="w")
    changes = []
    coordinator.subscribe(changes.append)
    mails = {"on_start": ["s@x.io"], "on_failure": ["f@x.io"], "on_success": ["ok@x.io"]}
    run_id = coordinator.start_run(job(email_notifications=mails), job_id=None)
    assert [(n.event, n.target, n.state) for n in rows(store)] == [
        ("on_start", "s@x.io", "PENDING")
    ]
    assert changes[-1].notifications == 1  # the delivery loop is woken by this change

    finish_run(coordinator, Result.FAILED)
    queued = rows(store)
    assert [(n.event, n.target) for n in queued] == [
        ("on_failure", "f@x.io"),
        ("on_start", "s@x.io"),
    ]
    assert queued[0].run_id == run_id
    assert queued[0].facts["result"] == "FAILED"


def test_a_rolled_back_change_leaves_no_outbox_row(store: Store) -> None:
    coordinator = Coordinator(store, coordinator_id="w")
    settings = job(
        email_notifications={"on_start": ["s@x.io"]},
        parameters=[{"name": "p", "default": "{{job.nope}}"}],
    )
    with pytest.raises(Exception, match="nope"):
        coordinator.start_run(settings, job_id=None)
    assert rows(store) == []


def queue(store: Store, n: int = 3) -> None:
    with store.begin() as conn:
        outbox.queue_messages(
            conn,
            run_id=1,
            event="on_success",
            messages=[(f"k{i}", "email", f"u{i}@x.io") for i in range(n)],
            facts={},
            now_ms=1_000,
        )


def test_queueing_the_same_event_twice_keeps_one_row(store: Store) -> None:
    queue(store)
    queue(store)
    assert len(rows(store)) == 3


def test_a_claimed_row_is_not_claimed_again_until_its_lease_expires(store: Store) -> None:
    queue(store)
    with store.begin() as conn:
        first = outbox.claim_due(conn, "a", 2_000, LEASE_MS, 10)
    with store.begin() as conn:
        second = outbox.claim_due(conn, "b", 3_000, LEASE_MS, 10)
    assert len(first) == 3
    assert second == []
    with store.begin() as conn:  # sender "a" died: its lease ends, "b" takes the rows over
        taken = outbox.claim_due(conn, "b", 2_000 + LEASE_MS, LEASE_MS, 10)
    assert [n.notification_id for n in taken] == [n.notification_id for n in first]
    with store.begin() as conn:  # "a" comes back late: it may not record anything now
        assert not outbox.mark_delivered(conn, first[0], "a", 70_000)
        assert outbox.mark_delivered(conn, taken[0], "b", 70_000)
    states = {n.notification_id: n.state for n in rows(store)}
    assert states[taken[0].notification_id] == "DELIVERED"


def test_a_failed_send_is_retried_later_and_given_up_at_the_cap(store: Store) -> None:
    queue(store, 1)
    with store.begin() as conn:
        (n,) = outbox.claim_due(conn, "a", 2_000, LEASE_MS, 10)
        outbox.mark_failed_attempt(conn, n, "a", "refused", retry_at=5_000)
    with store.begin() as conn:
        assert outbox.claim_due(conn, "a", 4_999, LEASE_MS, 10) == []
        (again,) = outbox.claim_due(conn, "a", 5_000, LEASE_MS, 10)
        assert again.attempts == 1
        outbox.mark_failed_attempt(conn, again, "a", "refused again", retry_at=None)
    (row,) = rows(store)
    assert (row.state, row.attempts, row.last_error) == ("FAILED", 2, "refused again")
    with store.read() as conn:
        assert outbox.next_due_at(conn) is None


def test_a_sender_without_smtp_records_why_and_retries(store: Store) -> None:
    coordinator = Coordinator(store, coordinator_id="w")
    coordinator.start_run(job(email_notifications={"on_start": ["s@x.io"]}), job_id=None)
    sender = Sender(store, NotifySettings(smtp=None, public_url="http://x"))
    outcome = sender.deliver_due()
    assert (outcome.delivered, outcome.failed) == (0, 1)
    (row,) = rows(store)
    assert row.state == "PENDING"
    assert "no SMTP server configured" in (row.last_error or "")


class Clock:
    """A hand-driven replacement for the coordinator's clock (epoch ms)."""

    def __init__(self, start: int) -> None:
        self.now = start

    def __call__(self) -> int:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    from headrace.engine import coordinator as coordinator_module

    fake = Clock(coordinator_module.now_ms())
    monkeypatch.setattr(coordinator_module, "now_ms", fake)
    return fake


def due_runs(store: Store, now: int) -> list[int]:
    from headrace.store import runs as run_store

    with store.read() as conn:
        return run_store.runs_with_due_timers(conn, now)


def test_a_duration_warning_is_one_timer_fired_once_by_fire_timers(
    store: Store, clock: Clock
) -> None:
    coordinator = Coordinator(store, coordinator_id="w")
    health = {"rules": [{"metric": "RUN_DURATION_SECONDS", "op": "GREATER_THAN", "value": 30}]}
    mails = {"on_duration_warning_threshold_exceeded": ["slow@x.io"]}
    run_id = coordinator.start_run(job(health=health, email_notifications=mails), job_id=None)
    start = clock.now
    from headrace.store import runs as run_store

    with store.read() as conn:
        assert run_store.next_timer_at(conn) == start + 30_000
    assert due_runs(store, start + 29_999) == []
    assert due_runs(store, start + 30_000) == [run_id]

    clock.now = start + 30_000
    coordinator.fire_timers(run_id)
    coordinator.fire_timers(run_id)  # a second firing finds no timer left
    (row,) = rows(store)
    assert (row.event, row.target, row.facts["threshold_seconds"]) == (
        "on_duration_warning_threshold_exceeded",
        "slow@x.io",
        30,
    )
    assert due_runs(store, start + 60_000) == []


def test_a_run_that_ends_in_time_never_warns(store: Store, clock: Clock) -> None:
    coordinator = Coordinator(store, coordinator_id="w")
    health = {"rules": [{"metric": "RUN_DURATION_SECONDS", "op": "GREATER_THAN", "value": 30}]}
    mails = {"on_duration_warning_threshold_exceeded": ["slow@x.io"]}
    coordinator.start_run(job(health=health, email_notifications=mails), job_id=None)
    finish_run(coordinator, Result.SUCCESS)
    assert due_runs(store, clock.now + 3_600_000) == []
    from headrace.store import runs as run_store

    with store.read() as conn:
        assert run_store.next_timer_at(conn) is None
    assert rows(store) == []


@pytest.mark.parametrize(("quiet", "expected"), [(False, 1), (True, 0)])
def test_a_run_skipped_by_max_concurrent_runs_notifies_on_failure(
    store: Store, quiet: bool, expected: int
) -> None:
    from headrace.store import jobs as job_store

    coordinator = Coordinator(store, coordinator_id="w")
    settings = job(
        email_notifications={"on_failure": ["f@x.io"]},
        queue={"enabled": False},
        notification_settings={"no_alert_for_skipped_runs": quiet},
    )
    with store.begin() as conn:
        job_id = job_store.create_job(conn, settings.model_dump(mode="json"), now_ms=1)
    coordinator.start_run(settings, job_id=job_id)
    skipped = coordinator.start_run(settings, job_id=job_id)
    found = [n for n in rows(store) if n.run_id == skipped]
    assert len(found) == expected
    if expected:
        assert found[0].facts["result"] == "MAXIMUM_CONCURRENT_RUNS_REACHED"


def test_a_repaired_run_notifies_its_new_end(store: Store) -> None:
    coordinator = Coordinator(store, coordinator_id="w")
    mails = {"on_failure": ["f@x.io"], "on_success": ["ok@x.io"]}
    run_id = coordinator.start_run(job(email_notifications=mails), job_id=None)
    finish_run(coordinator, Result.FAILED)
    coordinator.repair_run(run_id, rerun_all_failed_tasks=True)
    finish_run(coordinator, Result.SUCCESS)
    assert [(n.event, n.target) for n in reversed(rows(store))] == [
        ("on_failure", "f@x.io"),
        ("on_success", "ok@x.io"),
    ]
