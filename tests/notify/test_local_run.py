"""`headrace run` (no server) sends a run's notifications before it exits, bounded."""

from __future__ import annotations

from support import Headrace

from .conftest import Mailbox


def _job(hr: Headrace, command: str, **extra: str) -> str:
    path = hr.write(
        "job.yml",
        f"""
        name: nightly
        email_notifications:
          on_start: [start@example.com]
          on_success: [ok@example.com]
          on_failure: [oncall@example.com, lead@example.com]
        tasks:
          - task_key: load
            shell_command_task: {{command: "{command}"}}
          - task_key: publish
            depends_on: [{{task_key: load}}]
            shell_command_task: {{command: "true"}}
        """,
    )
    return str(path)


def test_a_failed_run_mails_its_failure_with_the_first_error_line(
    hr: Headrace, mailbox: Mailbox
) -> None:
    hr.env["HEADRACE_SMTP_URL"] = mailbox.url
    hr.env["HEADRACE_PUBLIC_URL"] = "https://jobs.example.com/"
    job = _job(hr, "echo loading; echo 'table sales is locked' >&2; exit 3")

    done = hr("run", job, "--json")
    assert done.returncode == 1, str(done)
    run_id = done.json()["run_id"]

    # One message per recipient (each is delivered and retried on its own), all sent
    # before the command returned.
    mails = mailbox.wait(3)
    assert len(mails) == 3, [m.subject for m in mails]
    start = [m for m in mails if "started" in m.subject]
    failures = [m for m in mails if "failed" in m.subject]
    assert [m.rcpt_tos for m in start] == [["start@example.com"]]
    assert sorted(r for m in failures for r in m.rcpt_tos) == [
        "lead@example.com",
        "oncall@example.com",
    ]
    failure = failures[0]
    assert failure.mail_from == "jobs@example.com"
    assert f"nightly run {run_id} failed" in failure.subject
    text = failure.part("plain")
    assert "load (FAILED): table sales is locked (exit code 3)" in text
    assert "publish (UPSTREAM_FAILED)" in text
    assert f"https://jobs.example.com/runs/{run_id}" in text
    assert "Duration: " in text
    assert "Result: FAILED" in text
    html = failure.part("html")
    assert f'href="https://jobs.example.com/runs/{run_id}"' in html
    assert "table sales is locked" in html

    listed = hr("notifications", "list", "--run", str(run_id), "--json")
    assert listed.returncode == 0, str(listed)
    rows = listed.json()["notifications"]
    assert {r["state"] for r in rows} == {"DELIVERED"}
    assert sorted(r["target"] for r in rows) == [
        "lead@example.com",
        "oncall@example.com",
        "start@example.com",
    ]


def test_a_successful_run_mails_on_success_only_to_its_list(hr: Headrace, mailbox: Mailbox) -> None:
    hr.env["HEADRACE_SMTP_URL"] = mailbox.url
    done = hr("run", _job(hr, "true"), "--json")
    assert done.returncode == 0, str(done)
    mails = mailbox.wait(2)
    targets = sorted(r for m in mails for r in m.rcpt_tos)
    assert targets == ["ok@example.com", "start@example.com"]


def test_an_unreachable_mail_server_never_fails_the_run_and_the_mail_stays_queued(
    hr: Headrace, mailbox: Mailbox
) -> None:
    mailbox.stop()  # nothing listens on its port now
    hr.env["HEADRACE_SMTP_URL"] = mailbox.url
    hr.env["HEADRACE_NOTIFY_WAIT_SECONDS"] = "0.5"
    done = hr("run", _job(hr, "true"), "--json")

    assert done.returncode == 0, str(done)  # the run's result, not the mail's
    assert "not delivered yet" in done.stderr
    rows = hr("notifications", "list", "--json").json()["notifications"]
    assert {r["state"] for r in rows} == {"PENDING"}
    assert all("Connection refused" in (r["last_error"] or "") for r in rows), rows

    # The next command on the store (here another run) delivers the leftovers too.
    mailbox.start()
    hr.env["HEADRACE_NOTIFY_WAIT_SECONDS"] = "30"
    again = hr("run", _job(hr, "true"), "--json")
    assert again.returncode == 0, str(again)
    mails = mailbox.wait(4)
    assert len(mails) == 4
    rows = hr("notifications", "list", "--json").json()["notifications"]
    assert {r["state"] for r in rows} == {"DELIVERED"}


def test_a_run_without_notifications_writes_no_outbox_rows(hr: Headrace) -> None:
    path = hr.write(
        "plain.yml", "name: plain\ntasks: [{task_key: a, shell_command_task: {command: 'true'}}]\n"
    )
    assert hr("run", path).returncode == 0
    assert hr("notifications", "list", "--json").json() == {"notifications": []}


def test_a_wrong_smtp_password_is_reported_without_the_password(
    hr: Headrace, mailbox: Mailbox
) -> None:
    wrong = "wrong-pw-7Hk"
    hr.env["HEADRACE_SMTP_URL"] = mailbox.url.replace(mailbox.PASSWORD, wrong) + "&timeout=2"
    hr.env["HEADRACE_NOTIFY_WAIT_SECONDS"] = "0.5"
    done = hr("run", _job(hr, "true"), "--json")
    assert done.returncode == 0, str(done)
    listed = hr("notifications", "list", "--json")
    rows = listed.json()["notifications"]
    assert rows, str(listed)
    assert all((r["last_error"] or "").startswith("SMTP 127.0.0.1:") for r in rows), rows
    for output in (done.stdout, done.stderr, listed.stdout, hr("notifications", "list").stdout):
        assert wrong not in output
    assert mailbox.mails == []


def test_success_with_failures_is_a_success_that_lists_what_failed(
    hr: Headrace, mailbox: Mailbox
) -> None:
    hr.env["HEADRACE_SMTP_URL"] = mailbox.url
    path = hr.write(
        "partial.yml",
        """
        name: partial
        email_notifications: {on_success: [ok@example.com], on_failure: [bad@example.com]}
        tasks:
          - task_key: optional
            shell_command_task: {command: "echo 'feed unavailable' >&2; exit 1"}
          - task_key: report
            depends_on: [{task_key: optional}]
            run_if: ALL_DONE
            shell_command_task: {command: "true"}
        """,
    )
    done = hr("run", path)
    assert done.returncode == 12, str(done)  # SUCCESS_WITH_FAILURES
    (mail,) = mailbox.wait(1)
    assert mail.rcpt_tos == ["ok@example.com"]  # Databricks: notified as a success
    assert "succeeded with failures" in mail.subject
    assert "optional (FAILED): feed unavailable (exit code 1)" in mail.part("plain")


def test_a_local_run_sends_its_duration_warning_while_it_still_runs(
    hr: Headrace, mailbox: Mailbox
) -> None:
    hr.env["HEADRACE_SMTP_URL"] = mailbox.url
    release = hr.dir / "release"
    path = hr.write(
        "slow.yml",
        f"""
        name: slow
        health: {{rules: [{{metric: RUN_DURATION_SECONDS, op: GREATER_THAN, value: 1}}]}}
        email_notifications: {{on_duration_warning_threshold_exceeded: [slow@example.com]}}
        tasks:
          - task_key: wait
            shell_command_task: {{command: "while [ ! -e {release} ]; do sleep 0.1; done"}}
        """,
    )
    proc = hr.popen("run", path, "--json")
    try:
        (mail,) = mailbox.wait(1)  # the run cannot end before `release` exists
        assert mail.rcpt_tos == ["slow@example.com"]
        assert "slow run 1000 is running longer than expected" in mail.subject
        assert "Threshold: 1.0s" in mail.part("plain")
        assert proc.poll() is None
    finally:
        release.touch()
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert len(mailbox.mails) == 1  # once, not again at the end


def test_a_bad_smtp_url_is_reported_and_the_run_result_stands(hr: Headrace) -> None:
    hr.env["HEADRACE_SMTP_URL"] = "mail.example.com:25"
    done = hr("run", _job(hr, "true"))
    assert done.returncode == 0, str(done)
    assert (
        "notifications not sent: HEADRACE_SMTP_URL: must start with smtp:// or smtps://"
        in done.stderr
    )
    rows = hr("notifications", "list", "--json").json()["notifications"]
    assert len(rows) == 2 and {r["state"] for r in rows} == {"PENDING"}  # kept for later
