"""Code formats registered by pve-firewall (``src/PVE/Firewall.pm``, release 6.0.x of PVE 9).

Addresses go through an emulation of ``Net::IP`` (``_netip``); its error texts reach the client.
"""

from __future__ import annotations

import math

from ..perl import truthy
from . import CodeFormat, FormatError
from ._fwdata import (
    CONNTRACK_HELPERS,
    ICMP_TYPE_NAMES,
    ICMPV6_TYPE_NAMES,
    PROTOCOL_IDS,
    PROTOCOL_NAMES,
    SERVICE_NAMES,
)
from ._net import IPV4RE, IPV6RE, is_ipv4
from ._netip import NetIP, net_ip_new
from ._perl import NS, lazy_re, num, split

_ALIAS = r"[A-Za-z][A-Za-z0-9\-_]+"
_MAX_ALIAS_NAME_LENGTH = 64
_MAX_IPSET_NAME_LENGTH = 64

_IP_OR_CIDR_RE = lazy_re(rf"^(?:{IPV6RE}|{IPV4RE})(?:/\d+)?$")
_SCOPED_ALIAS_RE = lazy_re(rf"^(dc/|guest/)?(?:{_ALIAS})$")
_IPSET_REF_RE = lazy_re(rf"^(\+)({NS}+)$")
_PORT_RANGE_RE = lazy_re(r"^([0-9]+):([0-9]+)$")
_PORT_RE = lazy_re(r"^([0-9]+)$")

# pve_fw_verify_conntrack_helper dies without a trailing newline, so Perl appends its location.
# The line number is that of the installed PVE::Firewall and could not be determined here.
CONNTRACK_HELPER_DIE_LOCATION = " at /usr/share/perl5/PVE/Firewall.pm line 1297.\n"


def _clean_cidr(cidr: str) -> str:
    """pve-firewall's ``clean_cidr``: clear the host bits of ``ADDRESS/LEN`` (LEN > 0)."""
    parts = split(cidr, "/")
    if len(parts) < 2 or not truthy(parts[1]):
        return cidr
    address, length = parts[0], parts[1]
    version = 4 if is_ipv4(address, dollar=True) else 6  # $ip =~ m/^$IPV4RE$/
    size = 32 if version == 4 else 128
    parser = NetIP()
    expanded = parser.expand(address, version)
    bits = parser.ip_to_bin(expanded, version) if expanded is not None else None
    if bits is None:  # not reached: the address matched $IPV4RE/$IPV6RE
        return cidr
    ones = num(length)
    if math.isfinite(ones):
        count = max(0, min(int(ones), size))
        mask = "1" * count + "0" * (size - count)
    else:
        mask = ""  # Perl repeats nothing for a non-finite count; the address becomes all zeros
    masked = "".join("1" if a == b == "1" else "0" for a, b in zip(bits, mask, strict=False))
    return f"{NetIP.bin_to_ip(masked, version)}/{length}"


def verify_ip_or_cidr(value: str) -> str:
    """IPorCIDR: an address with optional prefix length; host bits may be set."""
    if not _IP_OR_CIDR_RE.match(value):
        raise FormatError("value does not look like a valid IP address or CIDR network\n")
    result, error = net_ip_new(_clean_cidr(value))
    if result is None:
        raise FormatError(error + "\n")
    return value


def verify_ip_or_cidr_or_alias(value: str) -> str:
    """IPorCIDRorAlias: IPorCIDR, or an alias name (optionally scoped ``dc/`` or ``guest/``)."""
    if _SCOPED_ALIAS_RE.match(value):
        return value
    return verify_ip_or_cidr(value)


def parse_address_list(value: str) -> str:
    """pve-fw-addr-spec: ``+ipset``, an alias, or a list of addresses/networks, or one range."""
    if _IPSET_REF_RE.match(value):
        if len(value) > _MAX_IPSET_NAME_LENGTH + 1:
            raise FormatError("ipset name too long\n")
        return value
    if _SCOPED_ALIAS_RE.match(value):
        if len(value) > _MAX_ALIAS_NAME_LENGTH:
            raise FormatError("alias name too long\n")
        return value

    elements = split(value, ",")
    if value != ",".join(elements):
        raise FormatError("extraneous commas in list\n")
    ip_range = False
    ip_version: int | None = None
    for element in elements:
        result, error = net_ip_new(element)
        if result is None:
            raise FormatError(f"invalid IP address: {error}\n")
        if "-" in element:
            ip_range = True
        version = result[0]
        if ip_version and version != ip_version:
            raise FormatError(f"detected mixed ipv4/ipv6 addresses in address list '{value}'\n")
        ip_version = version
    if ip_range and len(elements) > 1:
        raise FormatError("you can't use a range in a list\n")
    return value


def _parse_ports(value: str, dport: bool) -> str:
    """``parse_port_name_number_or_range``: numbers, ``N:M`` ranges, service or ICMP names."""
    elements = split(value, ",")
    if value != ",".join(elements):
        raise FormatError("extraneous commas in list\n")
    count = 0
    icmp_port = False
    for item in elements:
        ranged = _PORT_RANGE_RE.match(item)
        single = _PORT_RE.match(item)
        if ranged:
            count += 2
            first, last = ranged.groups()
            for port in (first, last):
                if num(port) > 65535:
                    raise FormatError(f"invalid port '{port}'\n")
            if num(first) > num(last):
                raise FormatError(
                    f"backwards range '{first}:{last}' not allowed, did you mean '{last}:{first}'?\n"
                )
        elif single:
            count += 1
            if num(single.group(1)) > 65535:
                raise FormatError(f"invalid port '{single.group(1)}'\n")
        elif dport and (item in ICMP_TYPE_NAMES or item in ICMPV6_TYPE_NAMES):
            icmp_port = True
        elif item not in SERVICE_NAMES:
            raise FormatError(f"invalid port '{item}'\n")
    if icmp_port and count > 0:
        raise FormatError("ICMP ports not allowed in port range\n")
    if count > 15:
        raise FormatError("too many entries in port list (> 15 numbers)\n")
    return value


def verify_sport_spec(value: str) -> str:
    return _parse_ports(value, dport=False)


def verify_dport_spec(value: str) -> str:
    return _parse_ports(value, dport=True)


def verify_protocol_spec(value: str) -> str:
    if truthy(value) and value not in PROTOCOL_NAMES and value not in PROTOCOL_IDS:
        raise FormatError(f"unknown protocol '{value}'\n")
    return value


def verify_icmp_type_spec(value: str) -> str:
    if value in ICMP_TYPE_NAMES or value in ICMPV6_TYPE_NAMES or value == "":
        return value
    raise FormatError(f"invalid icmp-type value '{value}'\n")


def verify_conntrack_helper(value: str) -> str:
    """pve-fw-conntrack-helper: comma-separated helper names (the die text lacks a newline)."""
    for helper in split(value, ","):
        if helper not in CONNTRACK_HELPERS:
            raise FormatError(f"unknown helper {helper}{CONNTRACK_HELPER_DIE_LOCATION}")
    return value


FORMATS: dict[str, CodeFormat] = {
    "IPorCIDR": verify_ip_or_cidr,
    "IPorCIDRorAlias": verify_ip_or_cidr_or_alias,
    "pve-fw-addr-spec": parse_address_list,
    "pve-fw-conntrack-helper": verify_conntrack_helper,
    "pve-fw-dport-spec": verify_dport_spec,
    "pve-fw-icmp-type-spec": verify_icmp_type_spec,
    "pve-fw-protocol-spec": verify_protocol_spec,
    "pve-fw-sport-spec": verify_sport_spec,
}
