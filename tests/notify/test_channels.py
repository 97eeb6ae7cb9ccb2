"""Each destination type's format, sent by the real sender to a real HTTP receiver."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from headrace.config import database_url
from headrace.engine.coordinator import AttemptOutcome, Coordinator
from headrace.notify import destinations
from headrace.notify.delivery import Sender
from headrace.notify.settings import NotifySettings
from headrace.spec.models import JobSettings
from headrace.states import Result
from headrace.store import notifications as outbox
from headrace.store.db import Store, open_store

from .conftest import Receiver


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(database_url(str(tmp_path / "h.db"), tmp_path))
    try:
        yield opened
    finally:
        opened.dispose()


def failed_run(store: Store, config: dict[str, Any]) -> tuple[int, str]:
    """A destination of `config` and a failed run that notifies it on failure."""
    dest = destinations.create(
        store, display_name="d", config=config, who="root", admin=True, now=1
    )
    settings = JobSettings.model_validate(
        {
            "name": "billing",
            "webhook_notifications": {"on_failure": [{"id": dest.destination_id}]},
            "tasks": [{"task_key": "charge", "shell_command_task": {"command": "false"}}],
        }
    )
    coordinator = Coordinator(store, coordinator_id="w")
    run_id = coordinator.start_run(settings, job_id=None)
    attempt = coordinator.claim_next_attempt("w", lambda a: "/dev/null")
    assert attempt is not None
    coordinator.finish_attempt(attempt, AttemptOutcome(Result.FAILED, error="card declined"))
    return run_id, dest.destination_id


def send(store: Store, receiver: Receiver) -> None:
    settings = NotifySettings(
        smtp=None, public_url="https://jobs.example.com", pagerduty_events_url=receiver.url("/pd")
    )
    Sender(store, settings).deliver_due()


def test_microsoft_teams_gets_an_adaptive_card(store: Store, receiver: Receiver) -> None:
    run_id, _ = failed_run(store, {"microsoft_teams": {"url": receiver.url("/teams")}})
    send(store, receiver)
    (post,) = receiver.wait(1)
    assert post.body["type"] == "message"
    card = post.body["attachments"][0]
    assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert card["content"]["actions"][0]["url"] == f"https://jobs.example.com/runs/{run_id}"
    assert "card declined" in str(card["content"]["body"])


def test_pagerduty_gets_an_events_v2_trigger_with_one_dedup_key_per_run(
    store: Store, receiver: Receiver
) -> None:
    run_id, _ = failed_run(store, {"pagerduty": {"integration_key": "R0UTING"}})
    send(store, receiver)
    (post,) = receiver.wait(1)
    assert post.path == "/pd"
    assert post.body["routing_key"] == "R0UTING"
    assert post.body["event_action"] == "trigger"
    assert post.body["dedup_key"] == f"headrace-run-{run_id}"
    assert post.body["payload"]["severity"] == "error"
    assert f"billing run {run_id} failed" in post.body["payload"]["summary"]


def test_a_generic_webhook_sends_basic_auth(store: Store, receiver: Receiver) -> None:
    hook = {"generic_webhook": {"url": receiver.url(), "username": "u", "password": "pw"}}
    failed_run(store, hook)
    send(store, receiver)
    (post,) = receiver.wait(1)
    assert post.headers["Authorization"] == "Basic " + base64.b64encode(b"u:pw").decode()


def test_a_4xx_answer_is_final_and_a_5xx_answer_is_retried(
    store: Store, receiver: Receiver
) -> None:
    failed_run(store, {"slack": {"url": receiver.url()}})
    receiver.status = 503
    send(store, receiver)
    with store.read() as conn:
        (row,) = outbox.list_notifications(conn)
    assert (row.state, row.last_error) == (
        "PENDING",
        f"http://127.0.0.1:{receiver.port} answered HTTP 503",
    )

    receiver.status = 404
    with store.begin() as conn:  # make the retry due now
        conn.execute("UPDATE notifications SET next_attempt_at = 0")
    send(store, receiver)
    with store.read() as conn:
        (row,) = outbox.list_notifications(conn)
    assert (row.state, row.attempts) == ("FAILED", 2)


def test_a_deleted_destination_fails_its_notification_for_good(
    store: Store, receiver: Receiver
) -> None:
    _, dest_id = failed_run(store, {"slack": {"url": receiver.url()}})
    destinations.delete(store, dest_id, who="root", admin=True)
    send(store, receiver)
    with store.read() as conn:
        (row,) = outbox.list_notifications(conn)
    assert row.state == "FAILED"
    assert row.last_error == f"notification destination {dest_id} does not exist"
    assert receiver.posts == []


def test_a_notification_of_a_deleted_run_is_dropped_with_the_reason(
    store: Store, receiver: Receiver
) -> None:
    from headrace.store import runs as run_store

    run_id, _ = failed_run(store, {"slack": {"url": receiver.url()}})
    with store.begin() as conn:
        run_store.delete_run(conn, run_id)
    send(store, receiver)
    with store.read() as conn:
        (row,) = outbox.list_notifications(conn)
    assert (row.state, row.last_error) == ("FAILED", f"run {run_id} no longer exists")
    assert receiver.posts == []
