"""How the proxy trusts its upstreams: the system CAs, a CA bundle (PVE's cluster CA, pve-root-ca.pem),
pinned certificate fingerprints, or nothing at all when ``--insecure`` asks for it."""

from __future__ import annotations

import ssl
from collections.abc import Sequence

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


def upstream_trust(ca_file: str | None, fingerprints: Sequence[str],
                   insecure: bool) -> tuple[ssl.SSLContext, frozenset[bytes] | None]:
    """The TLS context for the upstreams and, when pinning, the accepted certificate digests (the
    pin replaces chain and name checks: PVE nodes present self-signed certificates)."""
    if insecure or fingerprints:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        pins = frozenset(parse_fingerprint(f) for f in fingerprints) if fingerprints else None
        return context, pins
    context = ssl.create_default_context()
    if ca_file:
        try:
            context.load_verify_locations(cafile=ca_file)
        except (OSError, ssl.SSLError) as err:
            raise ProxyConfigError(f"cannot load CA bundle {ca_file}: {err}") from None
    return context, None
