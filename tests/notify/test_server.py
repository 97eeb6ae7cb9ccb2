"""Notifications under `headrace server`: destinations through the SDK, delivery to real
receivers on loopback (aiosmtpd, an HTTP server), retries, duration warnings, switches and a
restart with undelivered notifications."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from databricks.sdk import WorkspaceClient
from databricks.sdk.errors import NotFound, PermissionDenied
from databricks.sdk.service import jobs, settings

from support import Server, settle, shell, wait_for

from .conftest import Mailbox, Receiver


@pytest.fixture
def srv(tmp_path: Path, mailbox: Mailbox) -> Iterator[Server]:
    server = Server(tmp_path / "srv", workers=2, grace_seconds=5)
    server.env["HEADRACE_SMTP_URL"] = mailbox.url
    server.env["HEADRACE_PUBLIC_URL"] = "https://jobs.example.com"
    try:
        server.start()
        yield server
    finally:
        server.close()


@pytest.fixture
def root(srv: Server) -> WorkspaceClient:
    return srv.client(srv.token("root", admin=True))


def webhook(w: WorkspaceClient, url: str, name: str = "hook") -> str:
    config = settings.Config(generic_webhook=settings.GenericWebhookConfig(url=url))
    dest = w.notification_destinations.create(display_name=name, config=config)
    assert dest.id
    return dest.id


def deliveries(w: WorkspaceClient, run_id: int) -> list[dict[str, Any]]:
    answer = w.api_client.do("GET", "/api/2.0/headrace/notifications", query={"run_id": run_id})
    return answer["notifications"]


def wait_delivered(w: WorkspaceClient, run_id: int, count: int) -> list[dict[str, Any]]:
    def done() -> list[dict[str, Any]] | None:
        rows = deliveries(w, run_id)
        delivered = [r for r in rows if r["state"] == "DELIVERED"]
        return rows if len(delivered) >= count else None

    return wait_for(done, 30, f"{count} delivered notifications of run {run_id}")


def test_destinations_are_managed_by_admins_through_the_sdk(
    srv: Server, root: WorkspaceClient
) -> None:
    config = settings.Config(
        generic_webhook=settings.GenericWebhookConfig(
            url="https://hooks.example.com/T0/secret", username="u", password="p"
        )
    )
    created = root.notification_destinations.create(display_name="ops", config=config)
    assert created.destination_type == settings.DestinationType.WEBHOOK
    got = root.notification_destinations.get(created.id)
    assert got.display_name == "ops"
    assert got.config.generic_webhook.url_set is True
    assert got.config.generic_webhook.url is None  # input-only, as on Databricks
    assert "secret" not in str(got.as_dict())
    listed = {d.id: d.display_name for d in root.notification_destinations.list()}
    assert listed[created.id] == "ops"

    renamed = root.notification_destinations.update(created.id, display_name="ops-2")
    assert renamed.display_name == "ops-2"

    alice = srv.client(srv.token("alice"))
    assert created.id in {d.id for d in alice.notification_destinations.list()}
    with pytest.raises(PermissionDenied):
        alice.notification_destinations.create(display_name="x", config=config)
    with pytest.raises(PermissionDenied):
        alice.notification_destinations.delete(created.id)

    bad = settings.Config(slack=settings.SlackConfig(url="ftp://nope"))
    with pytest.raises(Exception, match=r"config\.slack\.url: must be an http\(s\) URL"):
        root.notification_destinations.create(display_name="bad", config=bad)

    root.notification_destinations.delete(created.id)
    with pytest.raises(NotFound):
        root.notification_destinations.get(created.id)


def test_a_failed_run_reaches_email_webhook_and_slack_with_its_error(
    srv: Server, root: WorkspaceClient, mailbox: Mailbox, receiver: Receiver
) -> None:
    hook = webhook(root, receiver.url("/generic"))
    slack = root.notification_destinations.create(
        display_name="slack",
        config=settings.Config(slack=settings.SlackConfig(url=receiver.url("/slack"))),
    ).id
    job_id = root.jobs.create(
        name="orders",
        email_notifications=jobs.JobEmailNotifications(on_failure=["oncall@example.com"]),
        webhook_notifications=jobs.WebhookNotifications(
            on_failure=[jobs.Webhook(id=hook), jobs.Webhook(id=slack)]
        ),
        tasks=[shell("extract", "echo 'disk quota exceeded' >&2; exit 1")],
    ).job_id
    run_id = root.jobs.run_now(job_id).run_id
    settle(root, run_id)

    posts = {p.path: p for p in receiver.wait(2)}
    generic = posts["/generic"].body
    assert generic["event_type"] == "jobs.on_failure"
    assert generic["run"]["run_id"] == run_id
    assert generic["run"]["run_page_url"] == f"https://jobs.example.com/runs/{run_id}"
    assert generic["job"] == {"job_id": job_id, "name": "orders"}
    assert generic["result_state"] == "FAILED"
    assert generic["failed_tasks"] == [
        {"task_key": "extract", "result": "FAILED", "error": "disk quota exceeded (exit code 1)"}
    ]
    assert posts["/generic"].headers["Idempotency-Key"] == generic["event_id"]
    slack_body = posts["/slack"].body
    assert f"orders run {run_id} failed" in slack_body["text"]
    assert any("disk quota exceeded" in str(b) for b in slack_body["blocks"])

    (mail,) = mailbox.wait(1)
    assert mail.rcpt_tos == ["oncall@example.com"]
    assert "extract (FAILED): disk quota exceeded" in mail.part("plain")

    rows = wait_delivered(root, run_id, 3)
    assert sorted(r["target"] for r in rows) == sorted([hook, slack, "oncall@example.com"])
    assert all(r["attempts"] == 1 for r in rows)
    assert mailbox.logins == [mailbox.USER]  # SMTP AUTH with the URL's credentials
    assert f"mail via smtp://{mailbox.USER}@127.0.0.1:{mailbox.port}" in srv.log()
    assert mailbox.PASSWORD not in srv.log()


def test_a_receiver_that_is_down_gets_the_notification_later_once(
    srv: Server, root: WorkspaceClient, receiver: Receiver
) -> None:
    hook = webhook(root, receiver.url())
    receiver.stop()
    job_id = root.jobs.create(
        name="down-then-up",
        webhook_notifications=jobs.WebhookNotifications(on_success=[jobs.Webhook(id=hook)]),
        tasks=[shell("ok", "true")],
    ).job_id
    run_id = root.jobs.run_now(job_id).run_id
    run = settle(root, run_id)
    assert run.state.result_state == jobs.RunResultState.SUCCESS  # the hook's outage did not matter

    def failed_once() -> dict[str, Any] | None:
        rows = deliveries(root, run_id)
        return rows[0] if rows and rows[0]["attempts"] >= 1 and rows[0]["last_error"] else None

    row = wait_for(failed_once, 30, "a failed delivery attempt")
    assert row["state"] == "PENDING"
    assert "127.0.0.1" in row["last_error"]

    receiver.start()
    (post,) = receiver.wait(1)
    assert post.body["event_type"] == "jobs.on_success"
    (row,) = wait_delivered(root, run_id, 1)
    assert row["attempts"] >= 2
    assert len(receiver.posts) == 1  # DELIVERED: never sent again


def test_the_duration_warning_fires_once_while_the_run_still_runs(
    srv: Server, root: WorkspaceClient, mailbox: Mailbox, receiver: Receiver, tmp_path: Path
) -> None:
    hook = webhook(root, receiver.url())
    release = tmp_path / "release"
    health = jobs.JobsHealthRules(
        rules=[
            jobs.JobsHealthRule(
                metric=jobs.JobsHealthMetric.RUN_DURATION_SECONDS,
                op=jobs.JobsHealthOperator.GREATER_THAN,
                value=1,
            )
        ]
    )
    task = shell(
        "slow",
        f"while [ ! -e {release} ]; do sleep 0.1; done",
        health=health,
        email_notifications=jobs.TaskEmailNotifications(
            on_duration_warning_threshold_exceeded=["task-owner@example.com"]
        ),
    )
    job_id = root.jobs.create(
        name="slow-job",
        health=health,
        webhook_notifications=jobs.WebhookNotifications(
            on_duration_warning_threshold_exceeded=[jobs.Webhook(id=hook)]
        ),
        tasks=[task],
    ).job_id
    run_id = root.jobs.run_now(job_id).run_id

    (post,) = receiver.wait(1)
    (mail,) = mailbox.wait(1)
    run = root.jobs.get_run(run_id)
    assert run.state.life_cycle_state == jobs.RunLifeCycleState.RUNNING  # warned while running
    assert post.body["event_type"] == "jobs.on_duration_warning_threshold_exceeded"
    assert post.body["threshold_seconds"] == 1
    assert mail.rcpt_tos == ["task-owner@example.com"]
    assert "task slow of slow-job" in mail.subject
    assert "running longer than expected" in mail.subject

    release.touch()
    settle(root, run_id)
    rows = wait_delivered(root, run_id, 2)
    warnings = [r for r in rows if r["event"] == "on_duration_warning_threshold_exceeded"]
    assert len(warnings) == 2  # one for the run, one for the task: each exactly once
    assert len(receiver.posts) == 1


def test_no_alert_for_canceled_runs_writes_nothing_for_a_canceled_run(
    srv: Server, root: WorkspaceClient, receiver: Receiver, tmp_path: Path
) -> None:
    hook = webhook(root, receiver.url())
    hooks = jobs.WebhookNotifications(on_failure=[jobs.Webhook(id=hook)])
    quiet = root.jobs.create(
        name="quiet-cancel",
        webhook_notifications=hooks,
        notification_settings=jobs.JobNotificationSettings(no_alert_for_canceled_runs=True),
        tasks=[shell("wait", "sleep 60")],
    ).job_id
    loud = root.jobs.create(
        name="loud-cancel", webhook_notifications=hooks, tasks=[shell("wait", "sleep 60")]
    ).job_id
    quiet_run = root.jobs.run_now(quiet).run_id
    loud_run = root.jobs.run_now(loud).run_id
    for run_id in (quiet_run, loud_run):
        root.jobs.cancel_run(run_id)
        assert settle(root, run_id).state.result_state == jobs.RunResultState.CANCELED

    # The outbox row is written in the transaction that ends the run: read now, it is final.
    assert deliveries(root, quiet_run) == []
    (row,) = wait_delivered(root, loud_run, 1)
    assert row["event"] == "on_failure"
    (post,) = receiver.wait(1)
    assert post.body["run"]["run_id"] == loud_run
    assert post.body["result_state"] == "CANCELED"


@pytest.mark.parametrize(("last_only", "expected"), [(False, 2), (True, 1)])
def test_alert_on_last_attempt_holds_task_failures_until_the_last_retry(
    srv: Server, root: WorkspaceClient, last_only: bool, expected: int
) -> None:
    task = shell(
        "flaky",
        "exit 1",
        max_retries=1,
        min_retry_interval_millis=0,
        email_notifications=jobs.TaskEmailNotifications(on_failure=["dev@example.com"]),
        notification_settings=jobs.TaskNotificationSettings(alert_on_last_attempt=last_only),
    )
    job_id = root.jobs.create(name=f"retries-{last_only}", tasks=[task]).job_id
    run_id = root.jobs.run_now(job_id).run_id
    settle(root, run_id)
    rows = deliveries(root, run_id)
    assert [r["event"] for r in rows] == ["on_failure"] * expected
    assert {r["task_key"] for r in rows} == {"flaky"}


def test_a_restarted_server_delivers_what_the_killed_one_did_not(
    srv: Server, root: WorkspaceClient, receiver: Receiver
) -> None:
    hook = webhook(root, receiver.url())
    receiver.stop()
    job_id = root.jobs.create(
        name="restart-outbox",
        webhook_notifications=jobs.WebhookNotifications(on_start=[jobs.Webhook(id=hook)]),
        tasks=[shell("ok", "true")],
    ).job_id
    run_id = root.jobs.run_now(job_id).run_id
    settle(root, run_id)
    wait_for(
        lambda: (rows := deliveries(root, run_id)) and rows[0]["attempts"] >= 1,
        30,
        "a failed first delivery",
    )

    srv.stop(signal.SIGKILL)
    receiver.start()
    srv.start()

    (post,) = receiver.wait(1)
    assert post.body["event_type"] == "jobs.on_start"
    assert post.body["run"]["run_id"] == run_id
    (row,) = wait_delivered(root, run_id, 1)
    assert row["state"] == "DELIVERED"
    assert len(receiver.posts) == 1


def test_a_runs_deliveries_are_shown_only_to_who_may_view_the_run(
    srv: Server, mailbox: Mailbox
) -> None:
    alice = srv.client(srv.token("alice"))
    bob = srv.client(srv.token("bob"))
    job_id = alice.jobs.create(
        name="private",
        email_notifications=jobs.JobEmailNotifications(on_success=["alice@example.com"]),
        tasks=[shell("ok", "true")],
    ).job_id
    run_id = alice.jobs.run_now(job_id).run_id
    settle(alice, run_id)
    (row,) = wait_delivered(alice, run_id, 1)
    assert (row["event"], row["target"], row["attempts"]) == ("on_success", "alice@example.com", 1)
    with pytest.raises(PermissionDenied):
        deliveries(bob, run_id)
    (mail,) = mailbox.wait(1)
    assert mail.rcpt_tos == ["alice@example.com"]
