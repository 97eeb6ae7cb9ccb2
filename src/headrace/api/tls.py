"""TLS for `headrace server`: a given certificate and key, or a self-signed one for development.

Clients such as Airflow's Databricks provider and the legacy `databricks-cli` speak https by
default; `--tls-self-signed` makes a certificate for localhost, 127.0.0.1, ::1 and the bound
host, kept in `<HEADRACE_HOME>/tls/` (key file mode 0600) and reused until it expires. Clients
must trust it (`REQUESTS_CA_BUNDLE` / `SSL_CERT_FILE` pointing at `cert.pem`).
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
from dataclasses import dataclass
from pathlib import Path

from headrace.errors import HeadraceError

SELF_SIGNED_DAYS = 365


class TlsError(HeadraceError):
    """The TLS certificate or key cannot be used."""


@dataclass(frozen=True)
class TlsFiles:
    """A PEM certificate (chain) and its private key."""

    cert: Path
    key: Path

    def check(self) -> TlsFiles:
        """The files, checked to load as a certificate and matching key. Raises: TlsError."""
        for what, path in (("--tls-cert", self.cert), ("--tls-key", self.key)):
            if not path.is_file():
                raise TlsError(f"{what} {path}: no such file")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        try:
            context.load_cert_chain(str(self.cert), str(self.key))
        except (ssl.SSLError, OSError) as exc:
            raise TlsError(
                f"--tls-cert {self.cert} / --tls-key {self.key}: not a PEM certificate and its "
                f"matching private key ({exc})"
            ) from None
        return self


def self_signed(directory: Path, host: str) -> TlsFiles:
    """A self-signed certificate for development, made once in `directory` (and renewed when
    it expires or does not name `host`)."""
    files = TlsFiles(directory / "cert.pem", directory / "key.pem")
    if files.cert.exists() and files.key.exists() and _still_good(files.cert, host):
        return files
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [x509.DNSName("localhost")]
    addresses = {"127.0.0.1", "::1"}
    try:
        addresses.add(str(ipaddress.ip_address(host)))
    except ValueError:
        if host and host != "localhost":
            names.append(x509.DNSName(host))
    names += [x509.IPAddress(ipaddress.ip_address(a)) for a in sorted(addresses)]
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "headrace (self-signed)")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=SELF_SIGNED_DAYS))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(files.key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key_pem)
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return files


def _still_good(cert_path: Path, host: str) -> bool:
    from cryptography import x509

    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, x509.ExtensionNotFound):
        return False
    shown = {str(n.value) for n in names}
    wanted = host in shown or host in ("", "0.0.0.0", "::", "localhost")
    expires = cert.not_valid_after_utc
    return wanted and expires - datetime.datetime.now(datetime.UTC) > datetime.timedelta(days=1)
