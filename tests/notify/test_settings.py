"""SMTP URLs and delivery settings: parsed strictly, the password never shown."""

from __future__ import annotations

import pytest

from headrace.errors import SpecError
from headrace.notify.settings import NotifySettings, SmtpConfig


def test_a_full_smtp_url_is_parsed() -> None:
    cfg = SmtpConfig.parse(
        "smtp://bot%40corp:s3cr%2Ft@mail.example.com:587?starttls=true&from=jobs@example.com"
    )
    assert (cfg.host, cfg.port, cfg.starttls, cfg.ssl) == ("mail.example.com", 587, True, False)
    assert (cfg.username, cfg.password, cfg.sender) == ("bot@corp", "s3cr/t", "jobs@example.com")


def test_smtps_defaults_to_port_465() -> None:
    cfg = SmtpConfig.parse("smtps://mail.example.com?from=a@b.io")
    assert (cfg.port, cfg.ssl) == (465, True)


def test_the_password_is_never_in_repr_or_description() -> None:
    cfg = SmtpConfig.parse("smtp://u:hunter2@mail.example.com:25?from=a@b.io")
    assert "hunter2" not in repr(cfg)
    assert "hunter2" not in cfg.describe()


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://mail.example.com", "smtp:// or smtps://"),
        ("smtp://:25", "no host"),
        ("smtp://h?starttls=maybe", "starttls must be true or false"),
        ("smtp://h?tls=1", "unknown option(s) tls"),
        ("smtp://h:99999", "bad port"),
    ],
)
def test_bad_smtp_urls_name_the_flag_and_the_reason(url: str, words: str) -> None:
    with pytest.raises(SpecError) as caught:
        SmtpConfig.parse(url)
    assert "--smtp-url" in str(caught.value)
    assert words in str(caught.value)


def test_a_bad_url_error_hides_the_password() -> None:
    with pytest.raises(SpecError) as caught:
        SmtpConfig.parse("ftp://u:hunter2@h")
    assert "hunter2" not in str(caught.value)


def test_public_url_defaults_to_the_server_address(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HEADRACE_PUBLIC_URL", raising=False)
    monkeypatch.delenv("HEADRACE_SMTP_URL", raising=False)
    settings = NotifySettings.load(default_url="http://127.0.0.1:8765")
    assert settings.public_url == "http://127.0.0.1:8765"
    assert settings.smtp is None
    monkeypatch.setenv("HEADRACE_PUBLIC_URL", "https://jobs.example.com/")
    assert NotifySettings.load(default_url="x").public_url == "https://jobs.example.com"
    with pytest.raises(SpecError, match="--public-url"):
        NotifySettings.load(public_url="jobs.example.com", default_url="x")


def test_retries_back_off_up_to_a_cap() -> None:
    settings = NotifySettings(smtp=None, public_url="http://x")
    delays = [settings.retry_delay(n) for n in range(1, 12)]
    assert delays[:4] == [1.0, 2.0, 4.0, 8.0]
    assert max(delays) == settings.retry_cap_seconds
