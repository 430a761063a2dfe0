"""Code formats of pve-ha-manager, pve-guest-common (replication) and pve-network (SDN).

Sources: pve-ha-manager ``src/PVE/HA/Tools.pm``; pve-guest-common ``ReplicationConfig.pm``;
pve-network ``SDN/VnetPlugin.pm``, ``Zones/Plugin.pm``, ``Ipams/Plugin.pm``, ``Dns/Plugin.pm``,
``Controllers/Plugin.pm`` (the 9.1-era id formats, removed after 9.1), ``SubnetPlugin.pm``,
``Zones/EvpnPlugin.pm`` (route targets), ``Controllers/IsisPlugin.pm``, ``Fabrics.pm``,
``PrefixLists.pm`` and ``RouteMaps.pm``. All of them anchor with Perl's ``$``.

``pve-sdn-fabric-wireguard-interface`` is a property-string (hash) format and lives with the
hash formats.
"""

from __future__ import annotations

from ..perl import split
from . import CodeFormat
from ._net import DNS_LABEL, is_cidr
from ._perl import NS, PerlRe, fail, num, regex_format

_DOLLAR = True  # m/^...$/


_REPLICATION_ID = PerlRe(r"(\d+)-(\d+)", dollar=_DOLLAR)


def verify_replication_job_id(value: str) -> None:
    found = _REPLICATION_ID.match(value)
    if found is None:
        fail(f"invalid replication job id '{value}'\n")
    if num(found.group(1)) < 100:  # dies even in $noerr mode
        fail(f"invalid replication job id '{value}' (guest IDs < 100 are reseved)\n")


def _sdn_id(kind: str, body: str, max_len: int | None) -> CodeFormat:
    pattern = PerlRe(body, dollar=_DOLLAR, ignorecase=True)

    def check(value: str) -> None:
        if not pattern(value):
            fail(f"{kind} ID '{value}' contains illegal characters\n")
        if max_len is not None and len(value) > max_len:
            fail(f"{kind} ID '{value}' can't be more length than {max_len} characters\n")

    return check


_SDN_ID = "[a-z][a-z0-9]*[a-z0-9]"


def verify_sdn_subnet_id(value: str) -> None:
    """``ZONE-IP-MASK`` (how PVE names a zone's subnet), or a CIDR with its ``/``."""
    if "/" in value:
        cidr = value
    else:
        parts = split(value, "-")  # my ($zone, $ip, $mask) = split(/-/, $id)
        ip, mask = ([*parts[1:3], "", ""])[:2]
        cidr = f"{ip}/{mask}"
    if not is_cidr(cidr):  # pve-common's pve_verify_cidrv4 / cidrv6
        fail("value does not look like a valid CIDR network\n")


_BGP_RT = PerlRe(r"(\d+):(\d+)", dollar=_DOLLAR)


def verify_sdn_bgp_rt(value: str) -> None:
    found = _BGP_RT.match(value)
    if found is None or any(num(part) > 4294967295 for part in found.groups()):
        fail("value does not look like a valid bgp route-target\n")


_ID_30 = "[a-zA-Z0-9][a-zA-Z0-9_-]{0,30}[a-zA-Z0-9]?"


def _reserved_id(kind: str, reserved: str) -> CodeFormat:
    reserved_re = PerlRe(reserved, dollar=_DOLLAR)
    pattern = PerlRe(_ID_30, dollar=_DOLLAR, ignorecase=True)

    def check(value: str) -> None:
        if reserved_re(value):
            fail(f"{kind} ID '{value}' is currently reserved and cannot be used\n")
        if not pattern(value):
            fail(f"{kind} ID '{value}' contains illegal characters\n")

    return check


FORMATS: dict[str, CodeFormat] = {
    "pve-ha-resource-id": regex_format(
        f"[a-z]+:{NS}+", "value does not look like a valid ha resource id\n", dollar=_DOLLAR
    ),
    "pve-ha-resource-or-vm-id": regex_format(
        rf"[a-z]+:{NS}+|\d+", "value does not look like a valid ha resource id\n", dollar=_DOLLAR
    ),
    "pve-ha-node": regex_format(
        rf"{DNS_LABEL}(?::\d+)?", "value does not look like a valid ha node\n", dollar=_DOLLAR
    ),
    "pve-replication-job-id": verify_replication_job_id,
    "pve-sdn-vnet-id": _sdn_id("vnet", _SDN_ID, 8),
    "pve-sdn-zone-id": _sdn_id("zone", _SDN_ID, 8),
    "pve-sdn-ipam-id": _sdn_id("ipam", _SDN_ID, None),
    "pve-sdn-dns-id": _sdn_id("dns", _SDN_ID, None),
    "pve-sdn-controller-id": _sdn_id("controller", "[a-z][a-z0-9_-]*[a-z0-9]", 64),
    "pve-sdn-subnet-id": verify_sdn_subnet_id,
    "pve-sdn-bgp-rt": verify_sdn_bgp_rt,
    "pve-sdn-isis-net": regex_format(
        r"[a-fA-F0-9]{2}(?:\.[a-fA-F0-9]{4}){3,9}\.[a-fA-F0-9]{2}",
        "value does not look like a valid isis net\n",
        dollar=_DOLLAR,
    ),
    "pve-sdn-wireguard-iface-name": regex_format(
        "[a-zA-Z0-9][a-zA-Z0-9-]{0,6}[a-zA-Z0-9]?",
        "WireGuard interface name '{value}' contains illegal characters or exceeds the eight character limit\n",
        dollar=_DOLLAR,
    ),
    "pve-sdn-fabric-id": _sdn_id("Fabric", "[a-zA-Z0-9][a-zA-Z0-9-]{0,6}[a-zA-Z0-9]?", None),
    "pve-sdn-prefix-list-id": _reserved_id("prefix list", "only_default|only_default_v6|loopbacks_ips"),
    "pve-sdn-route-map-id": _reserved_id("route map", "pve_.*|MAP_VTEP_IN|MAP_VTEP_OUT|correct_src"),
}
