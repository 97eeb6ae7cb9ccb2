"""`headrace server --tls-cert/--tls-key` and `--tls-self-signed`."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import subprocess
from pathlib import Path

import httpx
import pytest

from support import HEADRACE, Server


def _make_cert(folder: Path) -> tuple[Path, Path]:
    """A CA-less self-signed certificate for 127.0.0.1, as an operator would bring one."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ops cert")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "ops-cert.pem", folder / "ops-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_given_certificate_serves_https_and_links_use_it(tmp_path: Path):
    cert, key = _make_cert(tmp_path)
    srv = Server(tmp_path / "srv", workers=1)
    srv.url = f"https://127.0.0.1:{srv.port}"
    srv.extra_args = ["--tls-cert", str(cert), "--tls-key", str(key)]
    srv.verify = ssl.create_default_context(cafile=str(cert))
    try:
        srv.start()
        token = srv.token("alice")
        with httpx.Client(base_url=srv.url, verify=srv.verify) as c:
            headers = {"Authorization": f"Bearer {token}"}
            done = c.post(
                "/api/2.1/jobs/runs/submit",
                headers=headers,
                json={"run_name": "tls", "shell_command_task": {"command": "true"}},
            )
            run = c.get(
                "/api/2.1/jobs/runs/get", headers=headers, params={"run_id": done.json()["run_id"]}
            )
        assert run.json()["run_page_url"] == f"{srv.url}/runs/{done.json()['run_id']}"
        with pytest.raises(httpx.TransportError):  # plain http is not served on that port
            httpx.get(f"http://127.0.0.1:{srv.port}/health", timeout=5)
    finally:
        srv.close()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tls-cert", "{cert}"], "--tls-cert and --tls-key go together"),
        (["--tls-cert", "{missing}", "--tls-key", "{key}"], "no such file"),
        (["--tls-cert", "{key}", "--tls-key", "{key}"], "not a PEM certificate"),
        (["--tls-self-signed", "--tls-cert", "{cert}", "--tls-key", "{key}"], "cannot be combined"),
    ],
)
def test_bad_tls_flags_are_refused_before_serving(tmp_path: Path, args, message):
    cert, key = _make_cert(tmp_path)
    filled = [a.format(cert=cert, key=key, missing=tmp_path / "nope.pem") for a in args]
    done = subprocess.run(
        [*HEADRACE, "server", "--port", "1", *filled],
        env={"HEADRACE_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert message in done.stderr
    assert "Traceback" not in done.stderr
