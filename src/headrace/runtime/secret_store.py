"""The Secrets API's side of the secrets directory: scopes, encrypted values, ACLs.

The same directory `dbutils.secrets` reads (runtime/secrets.py): a scope is a folder, a secret
a file in it; values put here are Fernet-encrypted with a key kept outside the directory.
ACLs live in `<secrets dir>/.headrace-acls.json` ({scope: {principal: READ|WRITE|MANAGE}});
a scope without an entry there (a folder made by hand) is managed by every user. Admins hold
MANAGE on every scope. Values are never listed, only read one by one with READ.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from headrace.runtime.secrets import SecretError, _check_name, _is_secret, decrypt, encrypt

LEVELS = ("READ", "WRITE", "MANAGE")
ACL_FILE = ".headrace-acls.json"
ALL_USERS = "users"
MAX_VALUE_BYTES = 128 * 1024  # Databricks' limit per secret
MAX_SECRETS_PER_SCOPE = 1000


class SecretNotFound(SecretError):
    """No such scope, secret or ACL."""


class SecretExists(SecretError):
    """The scope already exists."""


class SecretDenied(SecretError):
    """The user lacks the permission."""


@dataclass(frozen=True)
class Caller:
    """Who asks: a user name, admin or not (the API's principal)."""

    user_name: str
    admin: bool = False


class SecretStore:
    """Scopes, secrets and ACLs under one secrets directory; values encrypted with the key of
    `home` (HEADRACE_SECRETS_KEY or `<home>/secrets.key`)."""

    def __init__(self, directory: Path, home: Path) -> None:
        self.directory = directory
        self.home = home

    # --- ACLs ------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _acl_lock(self) -> Iterator[dict[str, dict[str, str]]]:
        """The ACL table, locked across processes; written back when the block ends."""
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / ACL_FILE
        with open(self.directory / f"{ACL_FILE}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            table = self._acls()
            before = json.dumps(table, sort_keys=True)
            yield table
            if json.dumps(table, sort_keys=True) != before:
                part = path.with_name(f".{ACL_FILE}.{os.getpid()}.part")
                part.write_text(json.dumps(table, indent=1, sort_keys=True))
                os.replace(part, path)

    def _acls(self) -> dict[str, dict[str, str]]:
        try:
            return json.loads((self.directory / ACL_FILE).read_text())
        except FileNotFoundError:
            return {}

    def level(self, scope: str, who: Caller) -> str | None:
        """The permission `who` holds on a scope (None: none)."""
        if who.admin:
            return "MANAGE"
        acl = self._acls().get(scope)
        if acl is None:
            return "MANAGE"  # a folder made by hand: everyone's
        held = [acl.get(who.user_name), acl.get(ALL_USERS)]
        ranks = [LEVELS.index(h) for h in held if h in LEVELS]
        return LEVELS[max(ranks)] if ranks else None

    def require(self, scope: str, who: Caller, level: str) -> Path:
        """The scope's folder if `who` holds `level`. Raises: SecretNotFound, SecretDenied."""
        folder = self.directory / _check_name("scope", scope)
        if not folder.is_dir():
            raise SecretNotFound(f"Scope {scope} does not exist!")
        held = self.level(scope, who)
        if held is None or LEVELS.index(held) < LEVELS.index(level):
            raise SecretDenied(
                f"User {who.user_name} does not have {level} permission on scope {scope}"
            )
        return folder

    def put_acl(self, scope: str, principal: str, permission: str, who: Caller) -> None:
        self.require(scope, who, "MANAGE")
        if permission not in LEVELS:
            raise SecretError(f"permission must be READ, WRITE or MANAGE, got {permission!r}")
        _principal(principal)
        with self._acl_lock() as table:
            table.setdefault(scope, {})[principal] = permission

    def delete_acl(self, scope: str, principal: str, who: Caller) -> None:
        self.require(scope, who, "MANAGE")
        with self._acl_lock() as table:
            if principal not in table.get(scope, {}):
                raise SecretNotFound(f"No ACL for principal {principal} on scope {scope}")
            del table[scope][principal]

    def list_acls(self, scope: str, who: Caller) -> list[tuple[str, str]]:
        self.require(scope, who, "MANAGE")
        return sorted(self._acls().get(scope, {ALL_USERS: "MANAGE"}).items())

    # --- scopes ----------------------------------------------------------------------------

    def create_scope(self, scope: str, who: Caller, initial_manage_principal: str | None) -> None:
        """Raises: SecretExists, SecretError (bad name or principal)."""
        folder = self.directory / _check_name("scope", scope)
        if initial_manage_principal not in (None, "", ALL_USERS):
            raise SecretError("initial_manage_principal must be 'users' or left out")
        with self._acl_lock() as table:
            try:
                folder.mkdir(parents=True)
            except FileExistsError:
                raise SecretExists(f"Scope {scope} already exists!") from None
            acl = {who.user_name: "MANAGE"}
            if initial_manage_principal == ALL_USERS:
                acl[ALL_USERS] = "MANAGE"
            table[scope] = acl

    def list_scopes(self) -> list[str]:
        if not self.directory.is_dir():
            return []
        return sorted(p.name for p in self.directory.iterdir() if p.is_dir())

    def delete_scope(self, scope: str, who: Caller) -> None:
        folder = self.require(scope, who, "MANAGE")
        with self._acl_lock() as table:
            shutil.rmtree(folder)
            table.pop(scope, None)

    # --- secrets ---------------------------------------------------------------------------

    def put(self, scope: str, key: str, value: bytes, who: Caller) -> None:
        """Store a value encrypted. Raises: SecretNotFound, SecretDenied, SecretError."""
        folder = self.require(scope, who, "WRITE")
        target = folder / _check_name("key", key)
        if len(value) > MAX_VALUE_BYTES:
            raise SecretError(f"a secret value may be at most {MAX_VALUE_BYTES} bytes")
        if not target.exists() and len(self.keys(scope, who, level="WRITE")) >= (
            MAX_SECRETS_PER_SCOPE
        ):
            raise SecretError(f"a scope holds at most {MAX_SECRETS_PER_SCOPE} secrets")
        part = folder / f".{key}.{os.getpid()}.{os.urandom(4).hex()}.part"
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(encrypt(value, self.home))
        os.replace(part, target)

    def keys(self, scope: str, who: Caller, *, level: str = "READ") -> list[tuple[str, int]]:
        """(key, last updated ms) of a scope's secrets, never their values."""
        folder = self.require(scope, who, level)
        return [
            (p.name, int(p.stat().st_mtime * 1000))
            for p in sorted(folder.iterdir())
            if _is_secret(p)
        ]

    def get(self, scope: str, key: str, who: Caller) -> bytes:
        folder = self.require(scope, who, "READ")
        path = folder / _check_name("key", key)
        try:
            raw = path.read_bytes()
        except (FileNotFoundError, IsADirectoryError):
            raise SecretNotFound(f"Secret {key} does not exist in scope {scope}") from None
        return decrypt(raw, self.home)

    def delete(self, scope: str, key: str, who: Caller) -> None:
        folder = self.require(scope, who, "WRITE")
        try:
            (folder / _check_name("key", key)).unlink()
        except FileNotFoundError:
            raise SecretNotFound(f"Secret {key} does not exist in scope {scope}") from None


def _principal(value: Any) -> str:
    if not isinstance(value, str) or not value or len(value) > 256:
        raise SecretError("principal must be a user or group name")
    return value
