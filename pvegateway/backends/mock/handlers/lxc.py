"""Containers (``/nodes/{node}/lxc``): create here; config, power, snapshots and volume operations shared."""

from __future__ import annotations

import re
from typing import Any

from ....errors import PVEError
from ...base import Call
from ..runtime import Handler, Mock
from ..state import Guest
from . import _volumes as vols
from ._features import feature
from ._guest_common import LXC, creation_target, guest_of
from ._guest_devices import Plan, plan_values
from ._guest_net import LOOPBACK, Address, nics
from ._guest_perms import lxc_create, lxc_create_early
from ._guest_power import add_created
from ._guest_routes import guest_routes
from ._params import flag
from ._restore import restore

BASE = "/nodes/{node}/lxc"
# parameters that steer the creation and are not written to the config (the password never is)
_CREATE_ONLY = {"node", "vmid", "start", "pool", "storage", "ostemplate", "password", "ssh-public-keys",
                "restore", "force", "unique", "ignore-unpack-errors", "bwlimit"}
_BARE_SIZE = re.compile(r"\d+(\.\d+)?")


def _ostype(template: str) -> str:
    name = template.rpartition("/")[2].lower()
    for known in ("debian", "ubuntu", "centos", "fedora", "opensuse", "archlinux", "alpine", "gentoo", "nixos",
                  "devuan", "almalinux", "rockylinux"):
        if name.startswith(known) or re.match(rf"{known}[-_]", name):
            return known
    return "unmanaged"


def create(mock: Mock, call: Call) -> str:
    params = call.params
    mock.node(call.path_params["node"])
    lxc_create_early(mock, call)
    if flag(params.get("restore")):
        lxc_create(mock, call, int(params["vmid"]))
        return restore(mock, call, LXC, {k: str(v) for k, v in params.items()
                                         if k not in _CREATE_ONLY and v is not None and not k.startswith("unused")})
    node, vmid = creation_target(mock, call, LXC)
    lxc_create(mock, call, vmid)
    template = str(params["ostemplate"])
    storage = str(params.get("storage") or "local")
    volume = vols.require(mock, template, node)
    wanted = "backup" if flag(params.get("restore")) else "vztmpl"
    if volume.content != wanted:  # pve-storage src/PVE/Storage.pm:627-628 (check_volume_access, LXC.pm:340)
        raise PVEError(500, f"unable to use volume {template} - content type needs to be '{wanted}'\n")
    # LXC.pm:379-381: an unusedN cannot be created with the CT ("ignoring ..."), and goes
    values = {k: str(v) for k, v in params.items()
              if k not in _CREATE_ONLY and v is not None and not k.startswith("unused")}
    for key, value in values.items():
        # pve-container src/PVE/API2/LXC.pm:371-378: a bare number is a new volume of that many GiB on
        # the create's storage
        if LXC.is_volume_key(key) and _BARE_SIZE.fullmatch(value):
            values[key] = f"{storage}:{value}"
    if "rootfs" not in values and any(LXC.is_volume_key(k) and not k.startswith("unused") for k in values):
        raise PVEError(500, "mount points configured, but 'rootfs' not set - aborting\n")  # LXC.pm:387-388
    if "rootfs" not in values:
        store = vols.storage(mock, storage, node)
        if "rootdir" not in store.content:
            raise PVEError.params({"storage": f"storage '{storage}' does not support container directories"})
        values["rootfs"] = f"{storage}:4"
    plan = plan_values(Plan(mock, LXC, node, vmid, creating=True), values)
    conf = {"arch": "amd64", "ostype": _ostype(template), "hostname": f"CT{vmid}", **plan.values}
    return add_created(mock, call, Guest(vmid=vmid, kind="lxc", node=node, config=conf), "vzcreate", plan)


def _interface(name: str, mac: str, addresses: tuple[Address, ...]) -> dict[str, Any]:
    """pve-container src/PVE/LXC.pm:1262-1300 get_interfaces, over ``ip --json a`` (MACs in lower case):
    ``inet``/``inet6`` hold the family's last address, ``hwaddr`` repeats the MAC."""
    entry: dict[str, Any] = {"name": name}
    for address in addresses:
        entry[address.family] = f"{address.address}/{address.prefix}"
    entry["ip-addresses"] = [{"ip-address-type": a.family, "ip-address": a.address, "prefix": a.prefix}
                             for a in addresses]
    entry["hardware-address"] = entry["hwaddr"] = mac
    return entry


def interfaces(mock: Mock, call: Call) -> list[dict[str, Any]] | None:
    """A stopped CT has no process to enter: PVE returns nothing (LXC.pm:1265-1266)."""
    guest = guest_of(mock, call, LXC)
    if guest.status == "stopped":
        return None
    return [_interface("lo", "00:00:00:00:00:00", LOOPBACK)] + [
        _interface(nic.name, nic.mac.lower(), nic.addresses) for nic in nics(guest)]


ROUTES: dict[tuple[str, str], Handler] = guest_routes(LXC, BASE, {
    ("POST", BASE): create,
    ("GET", BASE + "/{vmid}/interfaces"): interfaces,
    ("GET", BASE + "/{vmid}/feature"): feature(LXC),
})
