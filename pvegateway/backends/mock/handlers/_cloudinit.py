"""A VM's cloud-init: what changed since its image was made (GET/PUT ``cloudinit``) and the files PVE
generates from the config (``cloudinit/dump``), qemu-server src/PVE/QemuServer/Cloudinit.pm.

PVE records in the config's ``[special:cloudinit]`` section the values the image was made with, as
options change (QemuServer.pm:4633-4697); a start or ``PUT .../cloudinit`` makes the image anew and
forgets the record. The mock keeps that record as ``Guest.cloudinit``.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import urllib.parse
from typing import Any

from ....errors import PVEError
from ...base import Call
from ..runtime import Mock
from ..state import Guest
from ..store.defaults import SINGLETON_DEFAULTS
from ..store.layout import place
from ._guest_common import QEMU, check_lock, guest_of, split_prop, volume_of
from ._guest_net import nic_mac

MASK = "**********"
# API2/Qemu.pm:853-862: what GET cloudinit lists
OPTIONS = ("cicustom", "cipassword", "citype", "ciuser", "ciupgrade", "nameserver", "searchdomain", "sshkeys")
# QemuServer.pm:1792-1798 cloudinit_pending_properties: the cloud-init options, ipconfigN, name and netN
_RECORDED = re.compile(r"(cicustom|cipassword|citype|ciuser|ciupgrade|nameserver|searchdomain|sshkeys|name"
                       r"|ipconfig\d+|net\d+)")
_NET = re.compile(r"net(\d+)")


def record_change(guest: Guest, key: str, old: str | None, new: str | None) -> None:
    """QemuServer.pm:4633-4697 cloudinit_record_changed: remember the value the image has, or that a
    key is new to it; a value set back to what the image has is in sync again."""
    if guest.kind != "qemu" or not _RECORDED.fullmatch(key):
        return
    ci = guest.cloudinit
    recorded = ci.get(key)
    added = {k for k in ci.pop("added", "").split(",") if k}
    if new is not None:
        if recorded is not None:
            if new == recorded:
                del ci[key]
                added.discard(key)
        elif key not in added:
            if old is not None:
                ci[key] = old
            else:
                added.add(key)
    elif old is not None and recorded is None:
        if key in added:
            added.discard(key)
        else:
            ci[key] = old
    if added:
        ci["added"] = ",".join(sorted(added))


def image_made(guest: Guest) -> None:
    """Cloudinit.pm:727-739 apply_cloudinit_config: the new image has the config's values."""
    guest.cloudinit.clear()


def pending(mock: Mock, call: Call) -> list[dict[str, Any]]:
    """API2/Qemu.pm cloudinit_pending (its loop order: added, then the options, then the deleted)."""
    guest = guest_of(mock, call, QEMU)
    conf = {k: str(v) for k, v in guest.config.items()}
    ci = dict(guest.cloudinit)
    if "cipassword" in conf:
        conf["cipassword"] = MASK
    if "cipassword" in ci:
        ci["cipassword"] = MASK
    added_text = ci.pop("added", "")
    added = [k for k in added_text.split(",") if k]
    rows: list[dict[str, Any]] = [{"key": key, "pending": conf.get(key)} for key in added]
    for opt in OPTIONS:
        if not conf.get(opt) or re.search(opt, added_text):
            continue
        row: dict[str, Any] = {"key": opt}
        if ci.get(opt):
            row.update(value=ci[opt], pending=conf[opt])
        else:
            row["value"] = conf[opt]
        rows.append(row)
    rows += [{"key": opt, "delete": 1} for opt in ci if not conf.get(opt)]
    return rows


def _has_drive(guest: Guest) -> bool:
    return any(QEMU.is_volume_key(k) and re.search(rf"vm-{guest.vmid}-cloudinit", volume_of(str(v)) or "")
               for k, v in guest.config.items())


def regenerate(mock: Mock, call: Call) -> None:
    """API2/Qemu.pm cloudinit_update, QemuServer.pm:5340-5366: nothing without a cloud-init drive."""
    guest = guest_of(mock, call, QEMU)
    check_lock(guest)
    if _has_drive(guest):
        image_made(guest)


# --- the generated files (Cloudinit.pm) ---------------------------------------------------------------

def _format(conf: dict[str, Any]) -> str:
    """Cloudinit.pm:94-110: citype, else configdrive2 for Windows, else nocloud."""
    if "citype" in conf:
        return str(conf["citype"])
    return "configdrive2" if str(conf.get("ostype", "")).startswith("win") else "nocloud"


def _hostname(conf: dict[str, Any], vmid: int) -> tuple[str, str]:
    """Cloudinit.pm:112-125 get_hostname_fqdn."""
    hostname = str(conf.get("name", f"VM{vmid}"))
    if "." in hostname:
        return hostname.split(".", 1)[0], hostname
    if conf.get("searchdomain"):
        return hostname, f"{hostname}.{conf['searchdomain']}"
    return hostname, hostname


def _dns(mock: Mock, guest: Guest) -> tuple[list[str], list[str]]:
    """Cloudinit.pm:127-143 get_dns_conf: the VM's values, else the node's resolv.conf."""
    values = {"node": guest.node}
    host = mock.cluster.store.singletons.get(place("/nodes/{node}/dns", values)) \
        or SINGLETON_DEFAULTS["/nodes/{node}/dns"](mock.cluster, values)
    conf = guest.config
    search = str(conf["searchdomain"] if "searchdomain" in conf else host.get("search", "")).split()
    if "nameserver" in conf:
        servers = str(conf["nameserver"]).split()
    else:
        servers = [str(host[k]) for k in ("dns1", "dns2", "dns3") if host.get(k)]
    return search, servers


def userdata(conf: dict[str, Any], vmid: int, mask: bool) -> str:
    """Cloudinit.pm:145-189 cloudinit_userdata."""
    hostname, fqdn = _hostname(conf, vmid)
    out = f"#cloud-config\nhostname: {hostname}\nmanage_etc_hosts: true\nfqdn: {fqdn}\n"
    user = conf.get("ciuser")
    if user is not None:
        out += f"user: {user}\n"
        if user == "root":
            out += "disable_root: False\n"
    if "cipassword" in conf:
        out += f"password: {MASK if mask else conf['cipassword']}\n"
    if "sshkeys" in conf:
        keys = [k.rstrip("\n") for k in urllib.parse.unquote(str(conf["sshkeys"])).split("\n")]
        out += "ssh_authorized_keys:\n" + "".join(f"  - {k}\n" for k in keys if k.strip())
    out += "chpasswd:\n  expire: False\n"
    if user is None or user != "root":
        out += "users:\n  - default\n"
    if str(conf.get("ciupgrade", "1")) != "0":
        out += "package_upgrade: true\n"
    return out


def _ipconfigs(conf: dict[str, Any]) -> list[tuple[str, str, dict[str, str]]]:
    """(netN id, MAC, ipconfig) of each NIC with an ipconfig, in PVE's (string) order."""
    out = []
    for key in sorted(k for k in conf if _NET.fullmatch(k)):
        index = key[3:]
        if not conf.get(f"ipconfig{index}"):
            continue
        opts = split_prop(str(conf[key]))[1]
        mac = nic_mac("qemu", opts) or ""
        out.append((index, mac, split_prop(str(conf[f"ipconfig{index}"]))[1]))
    return out


def _split_ip4(cidr: str) -> tuple[str, str]:
    """Cloudinit.pm:191-196."""
    if "/" not in cidr:
        raise PVEError(500, f"not a CIDR: {cidr}\n")
    address, prefix = cidr.split("/", 1)
    return address, str(ipaddress.IPv4Network(f"0.0.0.0/{prefix}").netmask)


def nocloud_network(conf: dict[str, Any], search: list[str], servers: list[str]) -> str:
    """Cloudinit.pm:527-596 nocloud_network (version 1)."""
    out = "version: 1\nconfig:\n"
    for index, mac, ipconfig in _ipconfigs(conf):
        out += f"    - type: physical\n      name: eth{index}\n      mac_address: '{mac.lower()}'\n      subnets:\n"
        ip, ip6 = ipconfig.get("ip"), ipconfig.get("ip6")
        if ip == "dhcp":
            out += "      - type: dhcp4\n"
        elif ip is not None:
            address, mask = _split_ip4(ip)
            out += f"      - type: static\n        address: '{address}'\n        netmask: '{mask}'\n"
            if "gw" in ipconfig:
                out += f"        gateway: '{ipconfig['gw']}'\n"
        if ip6 == "dhcp":
            out += "      - type: dhcp6\n"
        elif ip6 == "auto":
            out += "      - type: ipv6_slaac\n"
        elif ip6 is not None:
            out += f"      - type: static6\n        address: '{ip6}'\n"
            if "gw6" in ipconfig:
                out += f"        gateway: '{ipconfig['gw6']}'\n"
    out += "    - type: nameserver\n"  # Cloudinit.pm:582: the lists are always there, maybe empty
    if servers:
        out += "      address:\n" + "".join(f"      - '{s}'\n" for s in servers)
    if search:
        out += "      search:\n" + "".join(f"      - '{s}'\n" for s in search)
    return out


def configdrive2_network(conf: dict[str, Any], search: list[str], servers: list[str]) -> str:
    """Cloudinit.pm:198-247 configdrive2_network (an interfaces(5) file)."""
    out = "auto lo\niface lo inet loopback\n\n"
    if servers:
        out += f"        dns_nameservers {' '.join(servers)}\n"
    if search:
        out += f"        dns_search {' '.join(search)}\n"
    for index, _, ipconfig in _ipconfigs(conf):
        name = f"eth{index}"
        out += f"auto {name}\n"
        ip, ip6 = ipconfig.get("ip"), ipconfig.get("ip6")
        if ip == "dhcp":
            out += f"iface {name} inet dhcp\n"
        elif ip:
            address, mask = _split_ip4(ip)
            out += f"iface {name} inet static\n        address {address}\n        netmask {mask}\n"
            if ipconfig.get("gw"):
                out += f"        gateway {ipconfig['gw']}\n"
        if ip6 in ("auto", "dhcp"):
            out += f"iface {name} inet6 {ip6}\n"
        elif ip6:
            address, _, prefix = ip6.partition("/")
            out += f"iface {name} inet6 static\n        address {address}\n        netmask {prefix}\n"
            if ipconfig.get("gw6"):
                out += f"        gateway {ipconfig['gw6']}\n"
    return out


def metadata(fmt: str, user: str, network: str) -> str:
    """Cloudinit.pm:249-264, 598-608: an instance id from the user and network data."""
    uuid = hashlib.sha1((user + network).encode(), usedforsecurity=False).hexdigest()  # PVE's id is SHA1
    if fmt == "nocloud":
        return f"instance-id: {uuid}\n"
    return f'{{\n     "uuid": "{uuid}",\n     "network_config": {{ "content_path": "/content/0000" }}\n}}\n'


def dump(mock: Mock, call: Call) -> str:
    """API2/Qemu.pm cloudinit_generated_config_dump, Cloudinit.pm:741-766: the password masked for
    whoever lacks VM.Config.Cloudinit; the meta data from the unmasked user data."""
    guest = guest_of(mock, call, QEMU)
    conf = guest.config
    mask = not mock.permissions.check(call.identity, f"/vms/{guest.vmid}", ["VM.Config.Cloudinit"], noerr=True)
    search, servers = _dns(mock, guest)
    fmt = _format(conf)
    network = (nocloud_network if fmt == "nocloud" else configdrive2_network)(conf, search, servers)
    kind = str(call.params["type"])
    if kind == "user":
        return userdata(conf, guest.vmid, mask)
    if kind == "network":
        return network
    return metadata(fmt, userdata(conf, guest.vmid, False), network)
