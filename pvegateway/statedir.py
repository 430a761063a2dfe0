"""The gateway's state directory: its TLS certificate and the secret that signs tickets.

Both are made on first start and reused, so certificates can be pinned and tickets survive restarts.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import ipaddress
import os
import re
import secrets
import socket
import subprocess  # nosec B404
import sys
from pathlib import Path

from .apidoc.sources import write_atomic


def default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "pvegateway"


def _write_private(path: Path, data: bytes) -> None:
    write_atomic(path, data)
    path.chmod(0o600)


def secret(directory: Path) -> bytes:
    """The ticket-signing secret (created once, mode 0600)."""
    path = directory / "authkey"
    if not path.exists():
        _write_private(path, secrets.token_bytes(32))
    return path.read_bytes()


def certificate(directory: Path) -> tuple[Path, Path, str]:
    """A self-signed certificate for this host (made once): paths and its SHA-256 fingerprint.

    Made in a child process of this interpreter: ``cryptography`` loaded for it stayed in the server's
    memory (17 MB of resident memory, a quarter of the mock's) for a certificate made once. Where the
    child cannot run (this package not importable by it), it is made here."""
    cert_path, key_path = directory / "pvegateway.pem", directory / "pvegateway.key"
    if not (cert_path.exists() and key_path.exists()):
        child = [sys.executable, "-c", "import sys; from pvegateway.statedir import make_certificate as make; "
                 "make(*sys.argv[1:])", str(cert_path), str(key_path)]
        environment = {**os.environ, "PYTHONPATH": os.pathsep.join(path for path in sys.path if path)}
        try:  # this interpreter and this package, with fixed arguments
            subprocess.run(  # noqa: S603 # nosec B603
                child, env=environment, capture_output=True, timeout=60, check=True)
        except (OSError, subprocess.SubprocessError):
            make_certificate(str(cert_path), str(key_path))
    return cert_path, key_path, fingerprint(cert_path)


def make_certificate(cert: str, key: str) -> None:
    """Write a new self-signed certificate and its key to the paths ``cert`` and ``key``."""
    _make_certificate(Path(cert), Path(key))


def _make_certificate(cert_path: Path, key_path: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    # a name of its own: trust stores look issuers up by name, so two instances' certificates
    # (a mock and a proxy in front of it, say) must not share one
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, socket.gethostname() or "pvegateway"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "pvegateway"),
                      x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, f"instance {os.urandom(6).hex()}")])
    now = datetime.datetime.now(datetime.UTC)
    alt = x509.SubjectAlternativeName([
        x509.DNSName("localhost"), x509.DNSName(socket.gethostname() or "pvegateway"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.IPAddress(ipaddress.ip_address("::1")),
    ])
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(alt, critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    _write_private(key_path, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
    write_atomic(cert_path, cert.public_bytes(serialization.Encoding.PEM))


_PEM_CERTIFICATE = re.compile(rb"-----BEGIN CERTIFICATE-----\r?\n(.*?)-----END CERTIFICATE-----", re.DOTALL)


def fingerprint(cert_path: Path) -> str:
    """SHA-256 fingerprint as PVE shows it: upper-case hex pairs joined by ``:``, of the file's first
    certificate (a chain's leaf). The digest of its DER bytes, read without ``cryptography``: importing
    it took a tenth of every TLS start and ~10 MB of memory, for a certificate made once."""
    match = _PEM_CERTIFICATE.search(cert_path.read_bytes())
    if match is None:
        raise ValueError(f"{cert_path}: no PEM certificate in it")
    try:
        der = base64.b64decode(b"".join(match.group(1).split()), validate=True)
    except binascii.Error as err:
        raise ValueError(f"{cert_path}: a PEM certificate that is not base64 ({err})") from None
    return ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())
