"""The notification rules (engine.notifications): who hears of what, with Databricks' switches.

Pure: job settings in, recipients out; no store.
"""

from __future__ import annotations

from typing import Any

import pytest

from headrace.engine import notifications as rules
from headrace.engine.notifications import EMAIL, WEBHOOK, Event, Recipient
from headrace.spec.models import JobSettings
from headrace.states import Result

FAILURE_RESULTS = [Result.FAILED, Result.TIMEDOUT]


def settings(**job: Any) -> JobSettings:
    task = job.pop("task", {})
    return JobSettings.model_validate(
        {
            "name": "j",
            "tasks": [{"task_key": "t", "shell_command_task": {"command": "true"}, **task}],
            **job,
        }
    )


def job_subs(**job: Any) -> rules.Subscriptions | None:
    alerts = rules.run_alerts(settings(**job))
    return alerts.job if alerts is not None else None


def task_subs(**task: Any) -> rules.Subscriptions:
    alerts = rules.run_alerts(settings(task=task))
    assert alerts is not None
    return alerts.tasks["t"]


MAILS = {
    "on_start": ["s@x.io"],
    "on_success": ["ok@x.io"],
    "on_failure": ["bad@x.io"],
    "on_duration_warning_threshold_exceeded": ["slow@x.io"],
    "on_streaming_backlog_exceeded": ["stream@x.io"],
}
HOOKS = {"on_failure": [{"id": "d-1"}], "on_success": [{"id": "d-2"}]}


def test_a_job_without_notifications_has_no_alerts() -> None:
    assert rules.run_alerts(settings()) is None


def test_health_rules_without_recipients_have_no_alerts() -> None:
    health = {"rules": [{"metric": "RUN_DURATION_SECONDS", "op": "GREATER_THAN", "value": 5}]}
    assert rules.run_alerts(settings(health=health)) is None


def test_emails_and_webhooks_are_recipients_of_their_event() -> None:
    subs = job_subs(email_notifications=MAILS, webhook_notifications=HOOKS)
    assert rules.on_run_start(subs) == [Recipient(EMAIL, "s@x.io")]
    event, failed = rules.on_run_end(subs, Result.FAILED)
    assert event is Event.ON_FAILURE
    assert failed == [Recipient(EMAIL, "bad@x.io"), Recipient(WEBHOOK, "d-1")]


@pytest.mark.parametrize("result", [Result.SUCCESS, Result.SUCCESS_WITH_FAILURES])
def test_success_with_failures_counts_as_success(result: Result) -> None:
    event, who = rules.on_run_end(job_subs(email_notifications=MAILS), result)
    assert event is Event.ON_SUCCESS
    assert who == [Recipient(EMAIL, "ok@x.io")]


@pytest.mark.parametrize(
    "result",
    [*FAILURE_RESULTS, Result.CANCELED, Result.MAXIMUM_CONCURRENT_RUNS_REACHED],
)
def test_failed_timed_out_canceled_and_skipped_runs_notify_on_failure(result: Result) -> None:
    event, who = rules.on_run_end(job_subs(email_notifications=MAILS), result)
    assert event is Event.ON_FAILURE
    assert who == [Recipient(EMAIL, "bad@x.io")]


def test_no_alert_for_canceled_runs_silences_only_canceled_runs() -> None:
    subs = job_subs(
        email_notifications=MAILS, notification_settings={"no_alert_for_canceled_runs": True}
    )
    assert rules.on_run_end(subs, Result.CANCELED)[1] == []
    assert rules.on_run_end(subs, Result.FAILED)[1] == [Recipient(EMAIL, "bad@x.io")]
    assert rules.on_run_end(subs, Result.MAXIMUM_CONCURRENT_RUNS_REACHED)[1] != []


def test_no_alert_for_skipped_runs_silences_only_skipped_runs() -> None:
    subs = job_subs(
        email_notifications=MAILS,
        webhook_notifications=HOOKS,
        notification_settings={"no_alert_for_skipped_runs": True},
    )
    assert rules.on_run_end(subs, Result.MAXIMUM_CONCURRENT_RUNS_REACHED)[1] == []
    assert rules.on_run_end(subs, Result.CANCELED)[1] != []


def test_the_deprecated_email_switch_silences_emails_of_skipped_runs_only() -> None:
    mails = {**MAILS, "no_alert_for_skipped_runs": True}
    subs = job_subs(email_notifications=mails, webhook_notifications=HOOKS)
    who = rules.on_run_end(subs, Result.MAXIMUM_CONCURRENT_RUNS_REACHED)[1]
    assert who == [Recipient(WEBHOOK, "d-1")]


def test_every_attempt_of_a_task_notifies_start_and_failure_by_default() -> None:
    subs = task_subs(email_notifications=MAILS)
    assert rules.on_task_start(subs, 0) == [Recipient(EMAIL, "s@x.io")]
    assert rules.on_task_start(subs, 2) == [Recipient(EMAIL, "s@x.io")]
    assert rules.on_task_attempt_failed(subs, Result.FAILED) == [Recipient(EMAIL, "bad@x.io")]


def test_alert_on_last_attempt_keeps_start_to_the_first_and_failure_to_the_last() -> None:
    subs = task_subs(
        email_notifications=MAILS, notification_settings={"alert_on_last_attempt": True}
    )
    assert rules.on_task_start(subs, 0) == [Recipient(EMAIL, "s@x.io")]
    assert rules.on_task_start(subs, 1) == []
    assert rules.on_task_attempt_failed(subs, Result.FAILED) == []
    assert rules.on_task_end(subs, Result.FAILED) == (
        Event.ON_FAILURE,
        [Recipient(EMAIL, "bad@x.io")],
    )


@pytest.mark.parametrize("result", [Result.UPSTREAM_FAILED, Result.UPSTREAM_CANCELED])
def test_a_task_skipped_by_its_upstream_is_a_skipped_run(result: Result) -> None:
    assert rules.on_task_end(task_subs(email_notifications=MAILS), result)[1] != []
    quiet = task_subs(
        email_notifications=MAILS, notification_settings={"no_alert_for_skipped_runs": True}
    )
    assert rules.on_task_end(quiet, result)[1] == []


@pytest.mark.parametrize("result", [Result.EXCLUDED, Result.DISABLED])
def test_excluded_and_disabled_tasks_notify_nobody(result: Result) -> None:
    assert rules.on_task_end(task_subs(email_notifications=MAILS), result) == (None, [])


def test_the_duration_threshold_is_the_smallest_run_duration_rule() -> None:
    health = {
        "rules": [
            {"metric": "RUN_DURATION_SECONDS", "op": "GREATER_THAN", "value": 60},
            {"metric": "STREAMING_BACKLOG_BYTES", "op": "GREATER_THAN", "value": 1},
            {"metric": "RUN_DURATION_SECONDS", "op": "GREATER_THAN", "value": 30},
        ]
    }
    subs = job_subs(email_notifications=MAILS, health=health)
    assert subs is not None and subs.duration_seconds == 30
    assert rules.on_duration_exceeded(subs) == [Recipient(EMAIL, "slow@x.io")]


def test_streaming_backlog_recipients_are_accepted_and_never_notified() -> None:
    job = settings(email_notifications={"on_streaming_backlog_exceeded": ["s@x.io"]})
    assert job.email_notifications is not None  # accepted by the spec...
    assert rules.run_alerts(job) is None  # ...and nothing can ever notify them


def test_a_recipient_listed_twice_gets_one_message() -> None:
    subs = job_subs(email_notifications={"on_failure": ["a@x.io", "a@x.io"]})
    assert rules.on_run_end(subs, Result.FAILED)[1] == [Recipient(EMAIL, "a@x.io")]


def test_dedup_keys_differ_by_scope_event_and_recipient() -> None:
    r = Recipient(EMAIL, "a@x.io")
    keys = {
        rules.dedup_key("run:1:r0", Event.ON_FAILURE, r),
        rules.dedup_key("run:1:r1", Event.ON_FAILURE, r),
        rules.dedup_key("run:1:r0", Event.ON_START, r),
        rules.dedup_key("run:1:r0", Event.ON_FAILURE, Recipient(EMAIL, "b@x.io")),
    }
    assert len(keys) == 4
