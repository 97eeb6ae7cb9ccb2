"""Who is notified of what: Databricks' notification rules as pure functions (no I/O).

The coordinator asks these functions, inside the transaction of a state change, which
outbox rows that change causes; delivery lives in `headrace.notify`. The rules (Databricks'
"job notifications" docs and the Jobs API reference §6.13):

* A run that ends SUCCESS or SUCCESS_WITH_FAILURES notifies `on_success`; FAILED, TIMEDOUT,
  a skipped run (MAXIMUM_CONCURRENT_RUNS_REACHED) and CANCELED notify `on_failure`, unless
  `notification_settings.no_alert_for_skipped_runs` / `no_alert_for_canceled_runs` say not to
  (the deprecated `email_notifications.no_alert_for_skipped_runs` silences the emails only).
* Job-level notifications are about the run: never sent for a task's retries.
* Task-level: `on_start` for every attempt and `on_failure` for every failed attempt, even one
  that will be retried; `alert_on_last_attempt` keeps `on_start` to the first attempt and
  `on_failure` to the last one. A task that never ran because an upstream failed or was
  canceled is a skipped task run (`no_alert_for_skipped_runs`); EXCLUDED and DISABLED tasks
  notify nobody.
* `health.rules` `RUN_DURATION_SECONDS GREATER_THAN n`: one `on_duration_warning_threshold_exceeded`
  per run (and per task run) once it has run more than n seconds and is still running.
* `on_streaming_backlog_exceeded` is accepted and never fires (Headrace has no streams).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from headrace.spec.models import JobSettings, Task
from headrace.states import Result


class Event(StrEnum):
    """The notification event keys of email_notifications / webhook_notifications."""

    ON_START = "on_start"  # a run (or a task attempt) started
    ON_SUCCESS = "on_success"  # it ended SUCCESS (or SUCCESS_WITH_FAILURES for a run)
    ON_FAILURE = "on_failure"  # it failed, timed out, was canceled or skipped
    ON_DURATION_WARNING = "on_duration_warning_threshold_exceeded"  # health rule exceeded


EMAIL = "email"
WEBHOOK = "webhook"

_SUCCESS = frozenset({Result.SUCCESS, Result.SUCCESS_WITH_FAILURES})
_FAILURE = frozenset({Result.FAILED, Result.TIMEDOUT})
_SKIPPED_RUN = frozenset({Result.MAXIMUM_CONCURRENT_RUNS_REACHED})
_SKIPPED_TASK = frozenset({Result.UPSTREAM_FAILED, Result.UPSTREAM_CANCELED})
_CANCELED = frozenset({Result.CANCELED, Result.UPSTREAM_CANCELED})


@dataclass(frozen=True)
class Recipient:
    """One place a message goes: an email address, or a notification destination id."""

    channel: str  # EMAIL or WEBHOOK
    target: str


@dataclass(frozen=True)
class Subscriptions:
    """The recipients of one job or task, per event, and its duration threshold."""

    by_event: dict[Event, tuple[Recipient, ...]]
    duration_seconds: int | None  # health: RUN_DURATION_SECONDS GREATER_THAN this
    no_alert_for_skipped: bool
    no_alert_for_canceled: bool
    no_email_for_skipped: bool  # the deprecated email_notifications.no_alert_for_skipped_runs
    alert_on_last_attempt: bool

    def recipients(self, event: Event) -> tuple[Recipient, ...]:
        return self.by_event.get(event, ())


@dataclass(frozen=True)
class RunAlerts:
    """What a run's settings ask to be notified of: the job's and each task's subscriptions."""

    job: Subscriptions | None
    tasks: dict[str, Subscriptions]


def subscriptions_of(owner: JobSettings | Task) -> Subscriptions | None:
    """The subscriptions of a job or a task; None when it asks for nothing."""
    by_event: dict[Event, tuple[Recipient, ...]] = {}
    emails, hooks = owner.email_notifications, owner.webhook_notifications
    for event in Event:
        found: list[Recipient] = []
        if emails is not None:
            found += [Recipient(EMAIL, a) for a in getattr(emails, event.value)]
        if hooks is not None:
            found += [Recipient(WEBHOOK, h.id) for h in getattr(hooks, event.value)]
        if found:
            by_event[event] = tuple(dict.fromkeys(found))  # one message per recipient
    duration = duration_threshold(owner)
    if not by_event:
        return None
    settings = owner.notification_settings
    return Subscriptions(
        by_event=by_event,
        duration_seconds=duration,
        no_alert_for_skipped=bool(settings and settings.no_alert_for_skipped_runs),
        no_alert_for_canceled=bool(settings and settings.no_alert_for_canceled_runs),
        no_email_for_skipped=bool(emails and emails.no_alert_for_skipped_runs),
        alert_on_last_attempt=bool(getattr(settings, "alert_on_last_attempt", None)),
    )


def duration_threshold(owner: JobSettings | Task) -> int | None:
    """The smallest RUN_DURATION_SECONDS GREATER_THAN threshold of a job or task, if any."""
    if owner.health is None:
        return None
    values = [r.value for r in owner.health.rules if r.metric == "RUN_DURATION_SECONDS"]
    return min(values) if values else None


def run_alerts(settings: JobSettings) -> RunAlerts | None:
    """Everything a run of `settings` may notify; None (the common case) when nothing."""
    tasks: dict[str, Subscriptions] = {}
    for task in settings.tasks:
        subs = subscriptions_of(task)
        if subs is not None:
            tasks[task.task_key] = subs
    job = subscriptions_of(settings)
    if job is None and not tasks:
        return None
    return RunAlerts(job, tasks)


def _filter(subs: Subscriptions, event: Event, result: Result | None) -> list[Recipient]:
    """The recipients of `event`, minus those notification_settings silence for `result`."""
    found = list(subs.recipients(event))
    if event is not Event.ON_FAILURE or result is None:
        return found
    skipped = result in _SKIPPED_RUN or result in _SKIPPED_TASK
    if skipped and subs.no_alert_for_skipped:
        return []
    if result in _CANCELED and subs.no_alert_for_canceled:
        return []
    if skipped and subs.no_email_for_skipped:
        found = [r for r in found if r.channel != EMAIL]
    return found


def end_event(result: Result) -> Event | None:
    """The event a run or task run ending with `result` raises (None: nobody is told)."""
    if result in _SUCCESS:
        return Event.ON_SUCCESS
    if result in _FAILURE or result in _SKIPPED_RUN or result in _SKIPPED_TASK:
        return Event.ON_FAILURE
    if result in _CANCELED:
        return Event.ON_FAILURE
    return None  # EXCLUDED, DISABLED: the task was meant not to run


def on_run_start(subs: Subscriptions | None) -> list[Recipient]:
    """Who hears that a run started."""
    return [] if subs is None else _filter(subs, Event.ON_START, None)


def on_run_end(subs: Subscriptions | None, result: Result) -> tuple[Event | None, list[Recipient]]:
    """The event and recipients of a run ending with `result`."""
    event = end_event(result)
    if subs is None or event is None:
        return event, []
    return event, _filter(subs, event, result)


def on_task_start(subs: Subscriptions | None, attempt_number: int) -> list[Recipient]:
    """Who hears that attempt `attempt_number` of a task started."""
    if subs is None or (subs.alert_on_last_attempt and attempt_number > 0):
        return []
    return _filter(subs, Event.ON_START, None)


def on_task_attempt_failed(subs: Subscriptions | None, result: Result) -> list[Recipient]:
    """Who hears of a failed attempt that will be retried (not its task's end)."""
    if subs is None or subs.alert_on_last_attempt:
        return []
    return _filter(subs, Event.ON_FAILURE, result)


def on_task_end(subs: Subscriptions | None, result: Result) -> tuple[Event | None, list[Recipient]]:
    """The event and recipients of a task run ending with `result` (its last attempt)."""
    return on_run_end(subs, result)


def on_duration_exceeded(subs: Subscriptions | None) -> list[Recipient]:
    """Who hears that a run or task passed its RUN_DURATION_SECONDS threshold."""
    return [] if subs is None else _filter(subs, Event.ON_DURATION_WARNING, None)


def dedup_key(scope: str, event: Event, recipient: Recipient) -> str:
    """The outbox's unique key: one message per (run or attempt, event, recipient).

    `scope` names what the event happened to, e.g. `run:1000:r0` (a run and its repair
    count) or `task:1003:a1` (a task run and its attempt number).
    """
    return f"{scope}:{event.value}:{recipient.channel}:{recipient.target}"[:255]
