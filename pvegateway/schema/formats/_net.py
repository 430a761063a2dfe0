"""Address checks of pve-common (``PVE::ParseUtils`` patterns and ``PVE::JSONSchema`` verifiers).

The public helpers answer exactly like pve-common's ``pve_verify_ipv4``/``ipv6``/``ip``, the CIDR
verifiers, ``pve_verify_dns_name`` and ``pve_verify_iface``. pve-common anchors these with ``\\z``
(a trailing newline is rejected); pass ``dollar=True`` where a caller in another repository
applies the same patterns with Perl's ``$``. Every repository's copy of these checks uses this one.
"""

from __future__ import annotations

from ._perl import PerlRe, num

_OCTET = r"(?:25[0-5]|(?:2[0-4]|1[0-9]|[1-9])?[0-9])"
IPV4RE = rf"(?:(?:{_OCTET}\.){{3}}{_OCTET})"
"""pve-common's ``$IPV4RE`` (dotted quad, no leading zeros)."""
_H16 = "(?:[0-9a-fA-F]{1,4})"
_LS32 = rf"(?:(?:{IPV4RE}|{_H16}:{_H16}))"
IPV6RE = (
    "(?:"
    rf"(?:(?:(?:{_H16}:){{6}}){_LS32})|"
    rf"(?:(?:::(?:{_H16}:){{5}}){_LS32})|"
    rf"(?:(?:(?:{_H16})?::(?:{_H16}:){{4}}){_LS32})|"
    rf"(?:(?:(?:(?:{_H16}:){{0,1}}{_H16})?::(?:{_H16}:){{3}}){_LS32})|"
    rf"(?:(?:(?:(?:{_H16}:){{0,2}}{_H16})?::(?:{_H16}:){{2}}){_LS32})|"
    rf"(?:(?:(?:(?:{_H16}:){{0,3}}{_H16})?::(?:{_H16}:){{1}}){_LS32})|"
    rf"(?:(?:(?:(?:{_H16}:){{0,4}}{_H16})?::){_LS32})|"
    rf"(?:(?:(?:(?:{_H16}:){{0,5}}{_H16})?::){_H16})|"
    rf"(?:(?:(?:(?:{_H16}:){{0,6}}{_H16})?::))"
    ")"
)
"""pve-common's ``$IPV6RE`` (RFC 4291 text forms, no zone id)."""

DNS_LABEL = "[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
"""One DNS label, as pve-common's DNS-name and node-name patterns spell it."""
DNS_NAME = rf"(?:{DNS_LABEL}\.)*{DNS_LABEL}"
"""Dot-separated DNS labels (no empty label, no trailing dot)."""
# m/^[a-z][a-z0-9_]{1,20}([:\.]\d+)?\z/i: Perl's /i adds only LONG S and KELVIN SIGN to [a-z];
# Python's re.IGNORECASE would also admit U+0130 and U+0131, hence explicit classes and no flag.
IFACE = r"[a-zA-Z\u017f\u212a][a-zA-Z0-9_\u017f\u212a]{1,20}(?:[:.]\d+)?"
"""pve-common's network interface name pattern (``pve_verify_iface``)."""

_IPV4 = {d: PerlRe(IPV4RE, dollar=d) for d in (False, True)}
_IPV6 = {d: PerlRe(IPV6RE, dollar=d) for d in (False, True)}
_IP = {d: PerlRe(f"{IPV4RE}|{IPV6RE}", dollar=d) for d in (False, True)}
# ``/(\d+)`` uses Perl's Unicode \d; the prefix is then compared numerically.
_CIDR4 = {d: PerlRe(rf"{IPV4RE}/(\d+)", dollar=d) for d in (False, True)}
_CIDR6 = {d: PerlRe(rf"{IPV6RE}/(\d+)", dollar=d) for d in (False, True)}
_DNS_NAME = PerlRe(DNS_NAME, dollar=False)
_IFACE = PerlRe(IFACE, dollar=False)

IPV4_MASKS = frozenset(
    ".".join(str((((1 << 32) - (1 << (32 - bits))) >> shift) & 0xFF) for shift in (24, 16, 8, 0))
    for bits in range(33)
)
"""The 33 dotted netmasks ``pve_verify_ipv4mask`` accepts (``0.0.0.0`` .. ``255.255.255.255``)."""


def is_ipv4(value: str, *, dollar: bool = False) -> bool:
    """True if ``value`` is an IPv4 address as pve-common's ``ipv4`` format accepts it."""
    return _IPV4[dollar](value)


def is_ipv6(value: str, *, dollar: bool = False) -> bool:
    """True if ``value`` is an IPv6 address as pve-common's ``ipv6`` format accepts it."""
    return _IPV6[dollar](value)


def is_ip(value: str, *, dollar: bool = False) -> bool:
    """True if ``value`` is an IPv4 or IPv6 address as pve-common's ``ip`` format accepts it."""
    return _IP[dollar](value)


def is_cidr(value: str, *, v4: bool = True, v6: bool = True, min_len: int = 8, dollar: bool = False) -> bool:
    """True if ``value`` is ``ADDRESS/LEN`` with ``min_len <= LEN <= 32`` (v4) or ``<= 128`` (v6).

    The defaults are pve-common's ``CIDR`` format (prefix length greater than 7); pve-network's
    ``FullRangeCIDR`` uses ``min_len=0`` and Perl ``$`` anchoring.
    """
    for enabled, patterns, top in ((v4, _CIDR4, 32), (v6, _CIDR6, 128)):
        if not enabled:
            continue
        found = patterns[dollar].match(value)
        if found is not None and min_len <= num(found.group(1)) <= top:
            return True
    return False


def is_dns_name(value: str) -> bool:
    """True if ``value`` is a DNS name as pve-common's ``dns-name`` format accepts it."""
    return _DNS_NAME(value)


def is_iface(value: str) -> bool:
    """True if ``value`` is a network interface name as pve-common's ``pve-iface`` format accepts it."""
    return _IFACE(value)
