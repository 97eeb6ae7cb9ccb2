"""`headrace server`'s TLS flags, checked: a certificate and key, or a self-signed pair."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from headrace.errors import HeadraceError


def tls_files(home: Path, host: str, cert: Path | None, key: Path | None, self_signed: bool) -> Any:
    """The TlsFiles to serve https with, or None for plain http. Raises: HeadraceError."""
    if self_signed and (cert is not None or key is not None):
        raise HeadraceError("--tls-self-signed cannot be combined with --tls-cert/--tls-key")
    if (cert is None) != (key is None):
        raise HeadraceError("--tls-cert and --tls-key go together: give both")
    from headrace.api import tls

    if self_signed:
        return tls.self_signed(home / "tls", host)
    if cert is None or key is None:
        return None
    return tls.TlsFiles(cert.expanduser(), key.expanduser()).check()
