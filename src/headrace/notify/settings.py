"""Delivery settings: the SMTP server, the public URL of run pages, retry pacing.

Built once from flags and `HEADRACE_*` variables (`HEADRACE_SMTP_URL`, `HEADRACE_PUBLIC_URL`,
`HEADRACE_PAGERDUTY_EVENTS_URL`). The SMTP password never appears in a repr, log or error.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, urlsplit

from headrace.errors import SpecError, SpecIssue

PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}


@dataclass(frozen=True)
class SmtpConfig:
    """Where mail goes: `smtp://user:pass@host:587?starttls=true&from=jobs@example.com`."""

    host: str
    port: int
    sender: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: bool = False
    ssl: bool = False  # smtps://: TLS from the first byte
    timeout: float = 10.0

    @classmethod
    def parse(cls, url: str, *, source: str = "--smtp-url") -> SmtpConfig:
        """Parse an smtp:// or smtps:// URL. Raises: SpecError naming what is wrong."""
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps"):
            raise SpecError(
                [SpecIssue(source, f"must start with smtp:// or smtps://, got {_safe(url)!r}")]
            )
        if not parts.hostname:
            raise _invalid([SpecIssue(source, f"no host in {_safe(url)!r}")])
        try:
            port = parts.port
        except ValueError:
            raise _invalid([SpecIssue(source, f"bad port in {_safe(url)!r}")]) from None
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        unknown = set(query) - {"starttls", "from", "timeout"}
        if unknown:
            names = ", ".join(sorted(unknown))
            raise SpecError(
                [SpecIssue(source, f"unknown option(s) {names}; known: starttls, from, timeout")]
            )
        starttls = query.get("starttls", "false").lower()
        if starttls not in _TRUE | _FALSE:
            raise SpecError(
                [SpecIssue(source, f"starttls must be true or false, got {starttls!r}")]
            )
        username = unquote(parts.username) if parts.username else None
        sender = query.get("from") or username or f"headrace@{parts.hostname}"
        if "@" not in sender:
            raise _invalid([SpecIssue(source, f"from must be an email address, got {sender!r}")])
        ssl = parts.scheme == "smtps"
        try:
            timeout = float(query.get("timeout", "10"))
        except ValueError:
            raise _invalid([SpecIssue(source, "timeout must be a number of seconds")]) from None
        return cls(
            host=parts.hostname,
            port=port if port is not None else (465 if ssl else 25),
            sender=sender,
            username=username,
            password=unquote(parts.password) if parts.password else None,
            starttls=starttls in _TRUE,
            ssl=ssl,
            timeout=timeout,
        )

    def describe(self) -> str:
        """The config for logs: no password."""
        user = f"{self.username}@" if self.username else ""
        scheme = "smtps" if self.ssl else "smtp"
        return f"{scheme}://{user}{self.host}:{self.port} (from {self.sender})"


def _safe(url: str) -> str:
    """A URL with its password replaced, for error messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


@dataclass(frozen=True)
class NotifySettings:
    """How notifications are delivered."""

    smtp: SmtpConfig | None
    public_url: str  # run pages are <public_url>/runs/<run_id>
    pagerduty_events_url: str = PAGERDUTY_EVENTS_URL
    max_attempts: int = 8  # then the row is FAILED (visible in `headrace notifications list`)
    retry_base_seconds: float = 1.0  # backoff: base * 2^(attempt-1), capped
    retry_cap_seconds: float = 300.0
    lease_seconds: float = 60.0  # a sender that dies mid-send holds its rows this long
    http_timeout: float = 10.0

    @classmethod
    def load(
        cls, *, smtp_url: str | None = None, public_url: str | None = None, default_url: str
    ) -> NotifySettings:
        """Flags first, then the environment, then defaults. Raises: SpecError."""
        smtp_text = smtp_url if smtp_url is not None else os.environ.get("HEADRACE_SMTP_URL")
        source = "--smtp-url" if smtp_url is not None else "HEADRACE_SMTP_URL"
        smtp = SmtpConfig.parse(smtp_text, source=source) if smtp_text else None
        url = public_url if public_url is not None else os.environ.get("HEADRACE_PUBLIC_URL")
        if url and urlsplit(url).scheme not in ("http", "https"):
            name = "--public-url" if public_url is not None else "HEADRACE_PUBLIC_URL"
            raise _invalid([SpecIssue(name, f"must be an http(s) URL, got {url!r}")])
        pagerduty = os.environ.get("HEADRACE_PAGERDUTY_EVENTS_URL") or PAGERDUTY_EVENTS_URL
        return cls(
            smtp=smtp, public_url=(url or default_url).rstrip("/"), pagerduty_events_url=pagerduty
        )

    def retry_delay(self, attempts: int) -> float:
        """Seconds to wait after the `attempts`-th failed send."""
        return min(self.retry_base_seconds * 2 ** max(attempts - 1, 0), self.retry_cap_seconds)


def _invalid(issues: list[SpecIssue]) -> SpecError:
    return SpecError(issues, what="notification settings")
