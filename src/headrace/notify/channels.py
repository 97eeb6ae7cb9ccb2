"""Sending one message: email over SMTP, and JSON posts for webhooks, Slack, Teams, PagerDuty.

Email and HTTP use the standard library (smtplib, urllib). Slack, Microsoft Teams and
PagerDuty are written here rather than through a notification library such as apprise: a
Databricks destination holds the exact URL an admin was given (a Slack or Teams incoming
webhook), which apprise would re-derive from tokens and always send to the vendor's host, and
each format is one documented JSON body (Slack `text`/`blocks`, a Teams Adaptive Card
message, PagerDuty Events API v2) — not worth a dependency tree on the server's start path.
"""

from __future__ import annotations

import base64
import json
import smtplib
import ssl
import urllib.error
import urllib.parse
import urllib.request
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

from headrace.notify.message import Message
from headrace.notify.settings import NotifySettings, SmtpConfig


class DeliveryError(Exception):
    """A send failed; `permanent` ones are not retried (e.g. an unknown destination)."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


# --- email ------------------------------------------------------------------------------------


def send_email(smtp: SmtpConfig | None, to: list[str], message: Message, message_id: str) -> None:
    """Mail `message` (plain text and HTML alternatives) to `to`. Raises: DeliveryError."""
    if smtp is None:
        raise DeliveryError("no SMTP server configured (--smtp-url or HEADRACE_SMTP_URL)")
    mail = EmailMessage()
    mail["Subject"] = message.subject
    mail["From"] = smtp.sender
    mail["To"] = ", ".join(to)
    mail["Date"] = formatdate(localtime=False)
    # The same id on a resend lets mail systems drop the duplicate (at-least-once delivery).
    mail["Message-ID"] = message_id
    mail["X-Headrace-Run-Id"] = str(message.run_id)
    mail.set_content(message.text())
    mail.add_alternative(message.html(), subtype="html")
    try:
        if smtp.ssl:
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                smtp.host, smtp.port, timeout=smtp.timeout, context=ssl.create_default_context()
            )
        else:
            client = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout)
        with client:
            if smtp.starttls:
                client.starttls(context=ssl.create_default_context())
            if smtp.username and smtp.password is not None:
                client.login(smtp.username, smtp.password)
            refused = client.send_message(mail, to_addrs=to)
    except smtplib.SMTPRecipientsRefused as exc:
        raise DeliveryError(
            f"SMTP refused every recipient: {list(exc.recipients)}", permanent=True
        ) from None
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"SMTP {smtp.host}:{smtp.port}: {type(exc).__name__}: {exc}") from None
    if refused:
        raise DeliveryError(f"SMTP refused some recipients: {sorted(refused)}", permanent=True)


# --- HTTP -------------------------------------------------------------------------------------


def post_json(
    url: str,
    body: dict[str, Any],
    *,
    timeout: float,
    headers: dict[str, str] | None = None,
    auth: tuple[str, str] | None = None,
) -> None:
    """POST `body` as JSON; any non-2xx answer is an error. Raises: DeliveryError."""
    data = json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="POST")
    request.add_header("Content-Type", "application/json")
    request.add_header("User-Agent", "headrace-notifications")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    if auth is not None:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read(65536)
    except urllib.error.HTTPError as exc:
        # 4xx but 408/429 will not get better by retrying the same body.
        permanent = 400 <= exc.code < 500 and exc.code not in (408, 429)
        raise DeliveryError(f"{_host(url)} answered HTTP {exc.code}", permanent=permanent) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DeliveryError(f"{_host(url)}: {reason}") from None


def _host(url: str) -> str:
    """A URL's scheme and host only: webhook paths often carry secrets."""
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


def webhook_body(message: Message, event_id: str) -> dict[str, Any]:
    """A generic webhook's JSON: Databricks' `event_type` / `run` / `job` keys plus details."""
    body = {
        "event_type": f"jobs.{message.event}",
        "event_id": event_id,
        "run": {"run_id": message.run_id, "run_page_url": message.run_url},
        "job": {"job_id": message.job_id, "name": message.job_name},
        "text": message.subject,
    }
    body.update({k: v for k, v in message.summary().items() if k not in ("run", "job")})
    return body


def slack_body(message: Message) -> dict[str, Any]:
    """A Slack incoming-webhook message: a text fallback and Block Kit blocks."""
    fields = [f"*Job:* {message.job_name}", f"*Run:* <{message.run_url}|{message.run_id}>"]
    if message.task_key:
        fields.append(f"*Task:* {message.task_key}")
    if message.result:
        fields.append(f"*Result:* {message.result}")
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*{message.subject}*"}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in fields]},
    ]
    if message.failed_tasks:
        lines = "\n".join(f"• `{t.task_key}` ({t.result}): {t.error}" for t in message.failed_tasks)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": lines[:2900]}})
    return {"text": f"{message.subject} {message.run_url}", "blocks": blocks}


def teams_body(message: Message) -> dict[str, Any]:
    """A Microsoft Teams incoming-webhook message carrying an Adaptive Card."""
    facts = [
        {"title": "Job", "value": message.job_name},
        {"title": "Run", "value": str(message.run_id)},
    ]
    if message.task_key:
        facts.append({"title": "Task", "value": message.task_key})
    if message.result:
        facts.append({"title": "Result", "value": message.result})
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": message.subject, "weight": "Bolder", "wrap": True},
        {"type": "FactSet", "facts": facts},
    ]
    for t in message.failed_tasks:
        body.append(
            {"type": "TextBlock", "text": f"{t.task_key} ({t.result}): {t.error}", "wrap": True}
        )
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
        "actions": [{"type": "Action.OpenUrl", "title": "Open the run", "url": message.run_url}],
    }
    return {
        "type": "message",
        "summary": message.subject,
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "content": card}
        ],
    }


def pagerduty_body(message: Message, integration_key: str) -> dict[str, Any]:
    """A PagerDuty Events API v2 event: failures and warnings trigger, a success resolves."""
    action = "resolve" if message.event == "on_success" else "trigger"
    return {
        "routing_key": integration_key,
        "event_action": action,
        # One incident per run (and task): the success of the same run resolves it.
        "dedup_key": f"headrace-run-{message.run_id}"
        + (f"-{message.task_key}" if message.task_key else ""),
        "payload": {
            "summary": message.subject[:1024],
            "source": "headrace",
            "severity": message.severity,
            "custom_details": message.summary(),
        },
        "links": [{"href": message.run_url, "text": "Run page"}],
    }


def send_to_destination(
    settings: NotifySettings,
    destination_type: str,
    config: dict[str, Any],
    message: Message,
    event_id: str,
    message_id: str,
) -> None:
    """Deliver to a notification destination of any type. Raises: DeliveryError."""
    timeout = settings.http_timeout
    headers = {"X-Headrace-Event-Id": event_id, "Idempotency-Key": event_id}
    if destination_type == "EMAIL":
        send_email(settings.smtp, list(config["email"]["addresses"]), message, message_id)
    elif destination_type == "WEBHOOK":
        hook = config["generic_webhook"]
        auth = (hook["username"], hook.get("password") or "") if hook.get("username") else None
        post_json(
            hook["url"],
            webhook_body(message, event_id),
            timeout=timeout,
            headers=headers,
            auth=auth,
        )
    elif destination_type == "SLACK":
        post_json(config["slack"]["url"], slack_body(message), timeout=timeout)
    elif destination_type == "MICROSOFT_TEAMS":
        post_json(config["microsoft_teams"]["url"], teams_body(message), timeout=timeout)
    elif destination_type == "PAGERDUTY":
        body = pagerduty_body(message, config["pagerduty"]["integration_key"])
        post_json(settings.pagerduty_events_url, body, timeout=timeout)
    else:
        raise DeliveryError(f"unknown destination type {destination_type}", permanent=True)
