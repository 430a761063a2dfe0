"""IP address, netmask and CIDR checks of pve-common (``PVE::ParseUtils`` patterns).

The public helpers answer exactly like pve-common's ``pve_verify_ipv4``/``ipv6``/``ip`` and the
CIDR verifiers. pve-common anchors these with ``\\z`` (a trailing newline is rejected); pass
``dollar=True`` where a caller in another repository applies the same patterns with Perl's ``$``.
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

_IPV4 = {d: PerlRe(IPV4RE, dollar=d) for d in (False, True)}
_IPV6 = {d: PerlRe(IPV6RE, dollar=d) for d in (False, True)}
_IP = {d: PerlRe(f"{IPV4RE}|{IPV6RE}", dollar=d) for d in (False, True)}
# ``/(\d+)`` uses Perl's Unicode \d; the prefix is then compared numerically.
_CIDR4 = {d: PerlRe(rf"{IPV4RE}/(\d+)", dollar=d) for d in (False, True)}
_CIDR6 = {d: PerlRe(rf"{IPV6RE}/(\d+)", dollar=d) for d in (False, True)}

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
