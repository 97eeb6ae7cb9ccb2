"""`dbutils.secrets`: secrets read from a directory of files, and their redaction.

The source (documented in docs/notebooks.md): one file per secret,
`<secrets dir>/<scope>/<key>`, holding the value (one trailing newline is dropped, so
`echo s3cr3t > key` works). The directory is `HEADRACE_SECRETS_DIR` if set, else
`$HEADRACE_HOME/secrets` (the worker passes its home to notebook and Python tasks), else
`~/.headrace/secrets`. Scope and key names follow Databricks' rule (letters, digits, `-`, `_`,
`.`, at most 128 characters), which also keeps them inside the directory.

Values put through the Secrets API are stored encrypted (Fernet): the file holds
`headrace-secret:v1:` and the token; the key is `HEADRACE_SECRETS_KEY`, else the file
`$HEADRACE_HOME/secrets.key` (mode 0600, outside the secrets directory). Plain files still work.

Values read here are redacted (`[REDACTED]`) from what the task prints; the notebook runner
redacts every secret of the directory from cell outputs, the log and the exit value.
"""

from __future__ import annotations

import io
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

REDACTED = "[REDACTED]"
# Shorter values would redact ordinary text ("1", "no"); Databricks has the same caveat.
MIN_REDACTED_LENGTH = 4
_NAME = re.compile(r"[A-Za-z0-9_.\-]{1,128}")


class SecretError(ValueError):
    """A secret could not be read (bad name, no such scope or key)."""


@dataclass(frozen=True)
class SecretScope:
    """As Databricks' `dbutils.secrets.listScopes()` items."""

    name: str


@dataclass(frozen=True)
class SecretMetadata:
    """As Databricks' `dbutils.secrets.list(scope)` items."""

    key: str


def secrets_dir() -> Path:
    """Where secrets live: HEADRACE_SECRETS_DIR, else $HEADRACE_HOME/secrets."""
    explicit = os.environ.get("HEADRACE_SECRETS_DIR")
    if explicit:
        return Path(explicit).expanduser()
    home = os.environ.get("HEADRACE_HOME")
    base = Path(home).expanduser() if home else Path.home() / ".headrace"
    return base / "secrets"


def _check_name(what: str, value: Any) -> str:
    if not isinstance(value, str) or not _NAME.fullmatch(value) or value in (".", ".."):
        raise SecretError(
            f"secret {what} {value!r} is invalid: use letters, digits, '-', '_' and '.' "
            "(at most 128 characters)"
        )
    return value


ENCRYPTED_PREFIX = b"headrace-secret:v1:"
KEY_FILE = "secrets.key"


def home_dir() -> Path:
    home = os.environ.get("HEADRACE_HOME")
    return Path(home).expanduser() if home else Path.home() / ".headrace"


def fernet_key(home: Path | None = None, *, create: bool = False) -> bytes | None:
    """The secrets' encryption key: HEADRACE_SECRETS_KEY, else `<home>/secrets.key` (made,
    mode 0600, when `create`). None when there is none yet."""
    explicit = os.environ.get("HEADRACE_SECRETS_KEY")
    if explicit:
        return explicit.strip().encode()
    path = (home if home is not None else home_dir()) / KEY_FILE
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        if not create:
            return None
    from cryptography.fernet import Fernet

    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # made by another process meanwhile
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as f:
        f.write(Fernet.generate_key())
    return path.read_bytes().strip()


def decrypt(raw: bytes, home: Path | None = None) -> bytes:
    """A stored value in clear (encrypted values need the key). Raises: SecretError."""
    if not raw.startswith(ENCRYPTED_PREFIX):
        return raw[:-1] if raw.endswith(b"\n") else raw
    key = fernet_key(home)
    if key is None:
        raise SecretError(
            "this secret is encrypted and no key was found: set HEADRACE_SECRETS_KEY or "
            f"provide {(home if home is not None else home_dir()) / KEY_FILE}"
        )
    from cryptography.fernet import Fernet, InvalidToken

    try:
        return Fernet(key).decrypt(raw[len(ENCRYPTED_PREFIX) :])
    except (InvalidToken, ValueError):
        raise SecretError(
            "this secret cannot be decrypted with the configured key (HEADRACE_SECRETS_KEY or "
            "secrets.key changed?)"
        ) from None


def encrypt(value: bytes, home: Path | None = None) -> bytes:
    """A value as stored by the Secrets API (the key is made on first use)."""
    from cryptography.fernet import Fernet

    key = fernet_key(home, create=True) or b""  # never empty: create=True makes one
    return ENCRYPTED_PREFIX + Fernet(key).encrypt(value)


def _read(path: Path) -> bytes:
    return decrypt(path.read_bytes())


def _is_secret(path: Path) -> bool:
    """A secret's file (not a Secrets API write in progress)."""
    return path.is_file() and not (path.name.startswith(".") and path.name.endswith(".part"))


class Secrets:
    """`dbutils.secrets`: get, getBytes, list, listScopes."""

    def __init__(self, directory: Path | None = None) -> None:
        self._directory = directory

    @property
    def directory(self) -> Path:
        return self._directory if self._directory is not None else secrets_dir()

    def getBytes(self, scope: str, key: str) -> bytes:
        """The secret's bytes. Raises: SecretError."""
        path = self.directory / _check_name("scope", scope) / _check_name("key", key)
        try:
            value = _read(path)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            if not (self.directory / scope).is_dir():
                raise SecretError(
                    f"Secret scope {scope!r} does not exist (no folder {self.directory / scope})"
                ) from None
            raise SecretError(
                f"Secret does not exist with scope: {scope} and key: {key} (no file {path})"
            ) from None
        guard_output(value.decode(errors="replace"))
        return value

    def get(self, scope: str, key: str) -> str:
        """The secret as text; it is redacted from this process's output. Raises: SecretError."""
        return self.getBytes(scope, key).decode()

    def list(self, scope: str) -> list[SecretMetadata]:
        """The keys of a scope. Raises: SecretError."""
        folder = self.directory / _check_name("scope", scope)
        if not folder.is_dir():
            raise SecretError(f"Secret scope {scope!r} does not exist (no folder {folder})")
        return [SecretMetadata(p.name) for p in sorted(folder.iterdir()) if _is_secret(p)]

    def listScopes(self) -> list[SecretScope]:
        """Every scope (a folder of the secrets directory)."""
        folder = self.directory
        if not folder.is_dir():
            return []
        return [SecretScope(p.name) for p in sorted(folder.iterdir()) if p.is_dir()]

    def help(self) -> None:
        print("dbutils.secrets: get(scope, key), getBytes, list(scope), listScopes()")


class Redactor:
    """Replaces known secret values in text with `[REDACTED]` (longest first)."""

    def __init__(self, values: set[str] | None = None) -> None:
        self._values: list[str] = []
        for value in values or ():
            self.add(value)

    def add(self, value: str) -> None:
        if len(value) >= MIN_REDACTED_LENGTH and value not in self._values:
            self._values.append(value)
            self._values.sort(key=len, reverse=True)

    def __bool__(self) -> bool:
        return bool(self._values)

    @property
    def values(self) -> tuple[str, ...]:
        """The values redacted, longest first."""
        return tuple(self._values)

    def __call__(self, text: str) -> str:
        for value in self._values:
            if value in text:
                text = text.replace(value, REDACTED)
        return text

    def deep(self, data: Any) -> Any:
        """`data` (JSON-like) with every string redacted."""
        if isinstance(data, str):
            return self(data)
        if isinstance(data, list):
            return [self.deep(item) for item in data]
        if isinstance(data, dict):
            return {key: self.deep(value) for key, value in data.items()}
        return data

    @classmethod
    def from_directory(cls, directory: Path | None = None) -> Redactor:
        """Every secret value under the secrets directory (unreadable files are skipped)."""
        folder = directory if directory is not None else secrets_dir()
        values: set[str] = set()
        if folder.is_dir():
            for scope in folder.iterdir():
                if not scope.is_dir():
                    continue
                for item in scope.iterdir():
                    try:
                        values.add(_read(item).decode(errors="replace"))
                    except (OSError, SecretError):
                        continue
        return cls(values)


class _RedactingStream(io.TextIOBase):
    """A text stream that redacts before writing to the stream it wraps."""

    def __init__(self, inner: TextIO, redactor: Redactor) -> None:
        self._inner = inner
        self.redactor = redactor

    def write(self, text: str) -> int:
        self._inner.write(self.redactor(text))
        return len(text)

    def flush(self) -> None:
        self._inner.flush()

    def isatty(self) -> bool:
        return self._inner.isatty()

    def fileno(self) -> int:
        return self._inner.fileno()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def guard_output(value: str) -> None:
    """Redact `value` from this process's `print` output from now on.

    Inside a notebook kernel the runner redacts outputs itself (it sees every message), so
    the kernel's streams are left alone.
    """
    if os.environ.get("HEADRACE_NOTEBOOK_KERNEL"):
        return
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if isinstance(stream, _RedactingStream):
            stream.redactor.add(value)
        elif stream is not None:
            setattr(sys, name, _RedactingStream(stream, Redactor({value})))
