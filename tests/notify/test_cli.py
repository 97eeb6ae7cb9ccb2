"""`headrace destinations ...` and `headrace notifications list` on a local store."""

from __future__ import annotations

from support import Headrace


def test_destinations_are_created_listed_without_secrets_and_deleted(hr: Headrace) -> None:
    made = hr(
        "destinations",
        "create",
        "--type",
        "teams",
        "--name",
        "ops",
        "--url",
        "https://example.webhook.office.com/webhookb2/SECRET-PATH",
    )
    assert made.returncode == 0, str(made)
    dest_id = made.stdout.strip()
    assert len(dest_id) == 36

    listed = hr("destinations", "list")
    assert dest_id in listed.stdout
    assert "MICROSOFT_TEAMS" in listed.stdout
    assert "example.webhook.office.com" in listed.stdout
    assert "SECRET-PATH" not in listed.stdout
    as_json = hr("destinations", "list", "--json").json()["results"]
    assert as_json == [
        {
            "id": dest_id,
            "display_name": "ops",
            "destination_type": "MICROSOFT_TEAMS",
            "config": {"microsoft_teams": {"url_set": True}},
        }
    ]

    gone = hr("destinations", "delete", dest_id)
    assert gone.returncode == 0, str(gone)
    assert hr("destinations", "list", "--json").json() == {"results": []}
    again = hr("destinations", "delete", dest_id)
    assert again.returncode == 3, str(again)
    assert f"Notification destination {dest_id} does not exist." in again.stderr


def test_every_destination_type_can_be_created(hr: Headrace) -> None:
    cases = [
        ["--type", "email", "--address", "a@example.com", "--address", "b@example.com"],
        [
            "--type",
            "webhook",
            "--url",
            "https://h.example.com/x",
            "--username",
            "u",
            "--password",
            "p",
        ],
        ["--type", "slack", "--url", "https://hooks.slack.com/services/T/B/X"],
        ["--type", "pagerduty", "--integration-key", "R0UTING"],
    ]
    for args in cases:
        done = hr("destinations", "create", *args)
        assert done.returncode == 0, str(done)
    types = sorted(
        d["destination_type"] for d in hr("destinations", "list", "--json").json()["results"]
    )
    assert types == ["EMAIL", "PAGERDUTY", "SLACK", "WEBHOOK"]


def test_bad_destination_flags_name_the_flag(hr: Headrace) -> None:
    cases = [
        (["--type", "sms"], "--type: must be one of email, webhook, slack, teams, pagerduty"),
        (["--type", "slack"], "--url: is required"),
        (["--type", "slack", "--url", "hooks.slack.com/x"], "--url: must be an http(s) URL"),
        (
            ["--type", "email", "--address", "nobody"],
            "--address: must be a list of email addresses",
        ),
        (
            ["--type", "pagerduty", "--url", "https://x"],
            "--url: does not apply to --type pagerduty",
        ),
    ]
    for args, message in cases:
        done = hr("destinations", "create", *args)
        assert done.returncode == 2, str(done)
        assert message in done.stderr, str(done)
    assert hr("destinations", "list", "--json").json() == {"results": []}  # nothing half-made


def test_the_server_refuses_a_bad_smtp_url_without_echoing_its_password(hr: Headrace) -> None:
    done = hr(
        "server", "--port", "1", "--smtp-url", "smtp://u:hunter2@mail.example.com?starttls=maybe"
    )
    assert done.returncode == 2, str(done)
    assert "--smtp-url: starttls must be true or false, got 'maybe'" in done.stderr
    assert "hunter2" not in done.output
    bad_url = hr("server", "--port", "1", "--public-url", "jobs.example.com")
    assert bad_url.returncode == 2, str(bad_url)
    assert "--public-url: must be an http(s) URL" in bad_url.stderr
