"""How the proxy trusts its upstreams: the system CAs, a CA bundle (PVE's cluster CA, pve-root-ca.pem),
pinned certificate fingerprints, or nothing at all when ``--insecure`` asks for it."""

from __future__ import annotations

import asyncio
import hashlib
import ssl
from collections.abc import Sequence

from aiohttp import Fingerprint
from aiohttp.client_exceptions import ServerFingerprintMismatch

from .options import ProxyConfigError


def parse_fingerprint(text: str) -> bytes:
    """``AB:CD:...`` (as ``pvenode cert info`` and the mock print it) or plain hex, SHA-256."""
    cleaned = text.strip().replace(":", "").replace(" ", "")
    if cleaned.lower().startswith("sha256"):
        cleaned = cleaned[6:].lstrip("=")
    try:
        digest = bytes.fromhex(cleaned)
    except ValueError:
        digest = b""
    if len(digest) != 32:
        raise ProxyConfigError(f"fingerprint {text!r} is not a SHA-256 fingerprint (64 hex digits)")
    return digest


class PinSet(Fingerprint):
    """Accepts a peer whose certificate's SHA-256 is any of the pinned ones (one per cluster node)."""

    def __init__(self, pins: Sequence[bytes]) -> None:
        super().__init__(pins[0])
        self.pins = frozenset(pins)

    def check(self, transport: asyncio.Transport) -> None:
        if not transport.get_extra_info("sslcontext"):
            return
        cert = transport.get_extra_info("ssl_object").getpeercert(binary_form=True)
        got = hashlib.sha256(cert).digest()
        if got not in self.pins:
            host, port, *_ = transport.get_extra_info("peername")
            raise ServerFingerprintMismatch(self.fingerprint, got, host, port)


def client_ssl(ca_file: str | None, fingerprints: Sequence[str], insecure: bool) -> ssl.SSLContext | Fingerprint | bool:
    """What aiohttp's ``ssl=`` gets: verification is on unless ``insecure``."""
    if insecure:
        return False
    if fingerprints:
        # PVE nodes present self-signed certificates: the pin replaces the chain and name checks
        return PinSet([parse_fingerprint(f) for f in fingerprints])
    context = ssl.create_default_context()
    if ca_file:
        try:
            context.load_verify_locations(cafile=ca_file)
        except (OSError, ssl.SSLError) as err:
            raise ProxyConfigError(f"cannot load CA bundle {ca_file}: {err}") from None
    return context
