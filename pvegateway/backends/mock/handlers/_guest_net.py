"""A guest's network as seen from inside: its ``netN`` NICs with the addresses they would carry.

One place for the addresses, so the QEMU guest agent (``network-get-interfaces``) and a container's
``interfaces`` agree. Nothing is stored: a NIC's addresses follow from its MAC address and the static
addresses of its config (LXC ``ip=``/``ip6=``, QEMU cloud-init ``ipconfigN``); a NIC without a static
address holds the one a DHCP server would hand out in 10.0.0.0/8, from the MAC's last three bytes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..state import Guest
from ._guest_common import split_prop
from ._guest_devices import QEMU_NIC_MODELS

_NET = re.compile(r"net(\d+)")


@dataclass(frozen=True)
class Address:
    address: str
    family: str  # "inet" / "inet6", as ``ip --json`` names it
    prefix: int


@dataclass(frozen=True)
class Nic:
    index: int  # N of netN
    mac: str  # as the config writes it (upper case)
    addresses: tuple[Address, ...]
    name: str  # a container's ``name=``; for a VM, netN (the guest names it: see the agent)


LOOPBACK = (Address("127.0.0.1", "inet", 8), Address("::1", "inet6", 128))


def nic_mac(kind: str, opts: dict[str, str]) -> str | None:
    """The MAC of a netN value: LXC's ``hwaddr``, a VM's ``<model>=<MAC>``."""
    if kind == "lxc":
        return opts.get("hwaddr")
    return next((opts[m] for m in QEMU_NIC_MODELS if m in opts), opts.get("macaddr"))


def dhcp_ipv4(mac: str) -> Address:
    host = int("".join(mac.split(":")[3:6]), 16) % (2**24 - 2) + 1  # never the network's or broadcast
    return Address(f"10.{host >> 16}.{(host >> 8) & 0xFF}.{host & 0xFF}", "inet", 8)


def link_local(mac: str) -> Address:
    """The EUI-64 link-local address every IPv6-enabled Linux interface has."""
    octets = [int(b, 16) for b in mac.split(":")]
    octets[0] ^= 0x02
    eui = [*octets[:3], 0xFF, 0xFE, *octets[3:]]
    groups = [f"{(eui[i] << 8) | eui[i + 1]:x}" for i in range(0, 8, 2)]
    return Address("fe80::" + ":".join(groups), "inet6", 64)


def _static(text: str | None, family: str) -> Address | None:
    if text and "/" in text:
        address, _, prefix = text.partition("/")
        if prefix.isdigit():
            return Address(address, family, int(prefix))
    return None


def _addresses(mac: str, v4: str | None, v6: str | None) -> tuple[Address, ...]:
    """``v4``/``v6`` as the config says: a CIDR, ``dhcp``, ``auto``, ``manual`` or absent (None)."""
    out: list[Address] = []
    static4 = _static(v4, "inet")
    if static4 is not None:
        out.append(static4)
    elif v4 == "dhcp":
        out.append(dhcp_ipv4(mac))
    static6 = _static(v6, "inet6")
    if static6 is not None:
        out.append(static6)
    out.append(link_local(mac))
    return tuple(out)


def nics(guest: Guest) -> list[Nic]:
    """The guest's NICs in netN order, each with the addresses it holds while the guest runs."""
    found: list[Nic] = []
    keys = sorted((int(m.group(1)), k) for k in guest.config if (m := _NET.fullmatch(k)))
    for index, key in keys:
        _, opts = split_prop(str(guest.config[key]))
        mac = nic_mac(guest.kind, opts)
        if mac is None or not re.fullmatch(r"([0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}", mac):
            continue
        if guest.kind == "lxc":
            addresses = _addresses(mac, opts.get("ip"), opts.get("ip6"))
        else:
            # cloud-init's ipconfigN; without it the guest's own network setup asks DHCP
            _, ipconfig = split_prop(str(guest.config.get(f"ipconfig{index}", "")))
            addresses = _addresses(mac, ipconfig.get("ip", "dhcp"), ipconfig.get("ip6"))
        found.append(Nic(index, mac.upper(), addresses, opts.get("name", key)))
    return found
