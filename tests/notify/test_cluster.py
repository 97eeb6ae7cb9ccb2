"""Notifications on a PostgreSQL cluster: rows written by a `headrace worker` process are
delivered by the server, woken through LISTEN/NOTIFY rather than its slow safety sweep."""

from __future__ import annotations

import pytest
from databricks.sdk.service import jobs

from cluster.conftest import LEASE, Cluster, cluster
from support import Server, settle, shell

from .conftest import Mailbox

__all__ = ["cluster"]

pytestmark = pytest.mark.postgres


def test_a_task_end_recorded_by_a_worker_process_is_mailed_by_the_server(
    cluster: Cluster, mailbox: Mailbox
) -> None:
    srv = Server(cluster.root / "server", workers=1)
    srv.workers = 0  # every attempt runs, and ends, in the worker process below
    srv.env.update({"HEADRACE_DB": cluster.url, "HEADRACE_SMTP_URL": mailbox.url, **LEASE})
    srv.start()
    cluster.servers.append(srv)
    cluster.worker(slots=1)
    w = srv.client(srv.token("alice"))
    task = shell(
        "remote",
        "true",
        email_notifications=jobs.TaskEmailNotifications(on_success=["owner@example.com"]),
    )
    job_id = w.jobs.create(name="remote-mail", tasks=[task]).job_id
    run_id = w.jobs.run_now(job_id).run_id
    settle(w, run_id)

    (row,) = cluster.sql(
        "SELECT a.worker_id, r.coordinator_id FROM attempts a JOIN runs r USING (run_id)"
        " WHERE a.run_id = :r",
        r=run_id,
    )
    assert row[0] != row[1], "the attempt should have ended in the worker process"
    # The mail must arrive well before the delivery loop's 30 s safety sweep would find it.
    (mail,) = mailbox.wait(1, timeout=15)
    assert mail.rcpt_tos == ["owner@example.com"]
    assert "task remote of remote-mail" in mail.subject
