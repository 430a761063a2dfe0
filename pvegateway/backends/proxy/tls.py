"""How the proxy trusts its upstreams: the system CAs, a CA bundle (PVE's cluster CA, pve-root-ca.pem),
certificate fingerprints pinned per node, or nothing at all when ``--insecure`` asks for it.

A pin belongs to one upstream: ``https://pve2:8006=AB:CD:...`` pins that node (``serve`` writes a
``--fingerprint`` given right after an ``--upstream`` this way), a bare fingerprint is allowed only
with a single upstream. A node's certificate is then checked against its own pins only, so the key of
one node cannot impersonate another. Upstreams without a pin are verified by the CAs; mixing pinned
and unpinned nodes needs ``--ca``, since a forgotten pin would otherwise meet the system CAs, which a
PVE node's self-signed certificate never passes, and look like an outage.
"""

from __future__ import annotations

import ssl
from collections.abc import Sequence

from .options import ProxyConfigError, UpstreamURL, parse_upstream


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


def split_pin(text: str) -> tuple[str | None, str]:
    """``URL=FINGERPRINT`` -> (URL, FINGERPRINT); a bare fingerprint -> (None, it). A URL has ``://``
    before the first ``=`` (an upstream URL has no query, so no ``=`` of its own)."""
    head, sep, tail = text.partition("=")
    return (head.strip(), tail) if sep and "://" in head else (None, text)


def bind_pins(upstreams: Sequence[UpstreamURL], fingerprints: Sequence[str]) -> dict[UpstreamURL, frozenset[bytes]]:
    """Each pinned upstream's accepted certificate digests (several: a certificate being replaced)."""
    bound: dict[UpstreamURL, set[bytes]] = {}
    for text in fingerprints:
        named, fingerprint = split_pin(text)
        if named is None:
            if len(upstreams) != 1:
                raise ProxyConfigError(
                    f"--fingerprint {fingerprint}: with {len(upstreams)} upstreams, say which node it pins: "
                    "give it right after that node's --upstream, or as --fingerprint https://HOST:PORT=SHA256")
            target = upstreams[0]
        else:
            target = parse_upstream(named)
            if target not in upstreams:
                raise ProxyConfigError(f"--fingerprint {named}=...: {named} is not one of the --upstream nodes")
        if target.scheme != "https":
            raise ProxyConfigError(f"--fingerprint for {target.host}:{target.port}: that upstream is plain http")
        bound.setdefault(target, set()).add(parse_fingerprint(fingerprint))
    return {url: frozenset(digests) for url, digests in bound.items()}


def _unverified() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _verified(ca_file: str | None) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if ca_file:
        try:
            context.load_verify_locations(cafile=ca_file)
        except (OSError, ssl.SSLError) as err:
            raise ProxyConfigError(f"cannot load CA bundle {ca_file}: {err}") from None
    return context


def upstream_trust(upstreams: Sequence[UpstreamURL], ca_file: str | None, fingerprints: Sequence[str],
                   insecure: bool) -> dict[UpstreamURL, tuple[ssl.SSLContext, frozenset[bytes] | None]]:
    """For each https upstream: the TLS context and, when pinned, its own accepted certificate digests
    (a pin replaces chain and name checks: PVE nodes present self-signed certificates)."""
    pins = bind_pins(upstreams, fingerprints)
    secure = [url for url in upstreams if url.scheme == "https"]
    unpinned = [url for url in secure if url not in pins]
    if pins and unpinned and not ca_file:
        missing = ", ".join(f"{url.host}:{url.port}" for url in unpinned)
        raise ProxyConfigError(
            f"upstream {missing} has no --fingerprint while other upstreams are pinned: give each node's "
            "--fingerprint right after its --upstream (or as --fingerprint https://HOST:PORT=SHA256), or --ca "
            "for the nodes without one")
    unverified = _unverified() if insecure or pins else None
    verified = _verified(ca_file) if unpinned and not insecure else None
    trust: dict[UpstreamURL, tuple[ssl.SSLContext, frozenset[bytes] | None]] = {}
    for url in secure:
        context = unverified if insecure or url in pins else verified
        assert context is not None  # nosec B101 # made above for exactly these upstreams
        trust[url] = (context, pins.get(url))
    return trust
