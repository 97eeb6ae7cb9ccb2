"""dbutils.secrets from the secrets directory, and redaction of their values."""

from __future__ import annotations

from pathlib import Path

import pytest

from headrace.runtime.secrets import REDACTED, Redactor, SecretError, Secrets


@pytest.fixture
def secrets(tmp_path: Path) -> Secrets:
    (tmp_path / "prod").mkdir()
    (tmp_path / "prod" / "db-password").write_text("hunter2-long\n")
    (tmp_path / "prod" / "api.token").write_bytes(b"tok\x00en")
    return Secrets(tmp_path)


def test_get_list_and_scopes(secrets: Secrets) -> None:
    assert secrets.get("prod", "db-password") == "hunter2-long"  # one trailing newline dropped
    assert secrets.getBytes("prod", "api.token") == b"tok\x00en"
    assert [m.key for m in secrets.list("prod")] == ["api.token", "db-password"]
    assert [s.name for s in secrets.listScopes()] == ["prod"]


def test_errors_name_the_scope_and_key(secrets: Secrets) -> None:
    with pytest.raises(SecretError, match="Secret does not exist with scope: prod and key: x"):
        secrets.get("prod", "x")
    with pytest.raises(SecretError, match="Secret scope 'dev' does not exist"):
        secrets.get("dev", "x")
    for bad in ("..", "a/b", "", "x" * 129):
        with pytest.raises(SecretError, match="is invalid"):
            secrets.get("prod", bad)
    with pytest.raises(SecretError, match=r"secret scope '\.\./prod' is invalid"):
        secrets.list("../prod")


def test_redactor_replaces_values_longest_first(tmp_path: Path) -> None:
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "short").write_text("abc")  # under the minimum length: not redacted
    (tmp_path / "s" / "pw").write_text("hunter2")
    (tmp_path / "s" / "pw2").write_text("hunter2hunter2")
    redact = Redactor.from_directory(tmp_path)

    assert redact("pw=hunter2hunter2 and hunter2, abc") == f"pw={REDACTED} and {REDACTED}, abc"
    assert redact.deep({"a": ["hunter2", 1], "b": None}) == {"a": [REDACTED, 1], "b": None}
    assert not Redactor.from_directory(tmp_path / "missing")
