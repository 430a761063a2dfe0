"""Perl semantics used by the storage, firewall and guest formats, and pve-common's address checks.

Python's ``$`` (without ``re.MULTILINE``) already behaves like Perl's: it also matches before a
trailing newline, so patterns ported from Perl keep ``^...$`` and are applied with ``re.match``.
pve-common's own verifiers (ip, dns-name, iface) anchor with ``\\z`` (Python ``\\Z``) instead.
Request values reach PVE's validators UTF-8 decoded, so Perl applies Unicode rules: ``\\d`` is any
``Nd`` digit (as in Python), while ``\\s`` differs from Python's and is spelled out below.
"""

from __future__ import annotations

import re

# Perl's \s under Unicode rules (Python's \s also matches \x1c-\x1f).
PERL_SPACE = "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
S = f"[{PERL_SPACE}]"
NS = f"[^{PERL_SPACE}]"

# pve-common ParseUtils: $IPV4RE / $IPV6RE
_OCTET = r"(?:25[0-5]|(?:2[0-4]|1[0-9]|[1-9])?[0-9])"
IPV4RE = rf"(?:(?:{_OCTET}\.){{3}}{_OCTET})"
_H16 = r"(?:[0-9a-fA-F]{1,4})"
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

_IP_RE = re.compile(rf"^(?:(?:{IPV4RE})|(?:{IPV6RE}))\Z")
_IPV4_ONLY_RE = re.compile(rf"^{IPV4RE}$")
_DNS_LABEL_RE = re.compile(r"[a-zA-Z0-9](?:[a-zA-Z0-9\-]*[a-zA-Z0-9])?")
# /i on [a-z] also matches LATIN SMALL LETTER LONG S and KELVIN SIGN in Perl
_IFACE_RE = re.compile(r"^[a-zA-Z\u017f\u212a][a-zA-Z0-9_\u017f\u212a]{1,20}([:\.]\d+)?\Z")
_NUM_RE = re.compile(r"[\t\n\x0b\x0c\r ]*([+-]?)([0-9]*)(?:\.([0-9]*))?", re.ASCII)
_LIST_SEP_RE = re.compile(r"[,;]")
_LEADING_SPACE_RE = re.compile(f"^{S}+")
_SPACES_RE = re.compile(f"{S}+")


def perl_num(text: str) -> float:
    """Numeric value of a string as Perl sees it (leading ASCII number, else 0)."""
    m = _NUM_RE.match(text)
    assert m is not None  # the pattern can match the empty string
    sign, whole, frac = m.groups()
    if not whole and not frac:
        return 0.0
    value = float(f"{whole or '0'}.{frac or '0'}")
    return -value if sign == "-" else value


def perl_true(text: str | None) -> bool:
    """Perl truthiness of a string: undef, "" and "0" are false."""
    return text is not None and text not in ("", "0")


def perl_split(pattern: str | re.Pattern[str], text: str) -> list[str]:
    """``split /pattern/, $text``: like re.split, but trailing empty fields are dropped."""
    parts = re.split(pattern, text)
    while parts and parts[-1] == "":
        parts.pop()
    return parts


def split_list(text: str) -> list[str]:
    """pve-common ``split_list``: NUL-separated if a NUL is present, else on runs of ``,;`` and space."""
    if "\0" in text:
        return perl_split("\0", text)
    text = _LEADING_SPACE_RE.sub("", _LIST_SEP_RE.sub(" ", text))
    return perl_split(_SPACES_RE, text)


def is_ipv4(value: str) -> bool:
    return _IPV4_ONLY_RE.match(value) is not None


def verify_ip(value: str) -> bool:
    """``pve_verify_ip($value, 1)``."""
    return _IP_RE.match(value) is not None


def verify_dns_name(value: str) -> bool:
    """``pve_verify_dns_name($value, 1)``: dot-separated labels, no empty label."""
    return all(_DNS_LABEL_RE.fullmatch(label) for label in value.split("."))


def verify_iface(value: str) -> bool:
    """``pve_verify_iface($value, 1)``."""
    return _IFACE_RE.match(value) is not None
