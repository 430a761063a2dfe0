"""New config values, checked and planned before anything changes: disks to allocate, MACs to generate.

``Plan`` gathers the final values and the allocations; ``commit`` runs them once every value passed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from ....errors import PVEError
from ..runtime import Mock
from ..state import Guest
from ..store.interfaces import in_force
from ..store.sdn import local_vnets
from . import _volumes as vols
from ._guest_common import Kind, is_cdrom, join_prop, next_mac, split_prop, volume_of, with_size

_NET = re.compile(r"net\d+")
_CLOUDINIT = re.compile(r"vm-\d+-cloudinit")
QEMU_NIC_MODELS = {"e1000", "e1000-82540em", "e1000-82544gc", "e1000-82545em", "e1000e", "i82551", "i82557b",
                    "i82559er", "ne2k_isa", "ne2k_pci", "pcnet", "rtl8139", "virtio", "vmxnet3"}


@dataclass
class Plan:
    mock: Mock
    kind: Kind
    node: str
    vmid: int
    creating: bool = False  # a create's checks (LXC names another parameter than its config update)
    values: dict[str, str] = field(default_factory=dict)
    steps: list[Callable[[], None]] = field(default_factory=list)
    taken: set[str] = field(default_factory=set)
    mac_start: int = 0

    def __post_init__(self) -> None:
        self.mac_start = self.mock.cluster.next_mac

    def abort(self) -> None:
        self.mock.cluster.next_mac = self.mac_start

    def commit(self) -> None:
        """Make the new disks; when a storage fails one, those made already are freed again (as PVE's
        create_disks callers free their vollist: qemu-server src/PVE/API2/Qemu.pm:1544-1548)."""
        steps, self.steps = self.steps, []
        try:
            for step in steps:
                step()
        except PVEError:
            for volid in self.taken:
                vols.free(self.mock, volid, self.node)
            raise


def plan_values(plan: Plan, values: dict[str, str]) -> Plan:
    """Check and plan each value; on failure nothing has changed (the MAC counter is restored)."""
    try:
        for key, value in values.items():
            plan.values[key] = _plan_one(plan, key, value)
    except PVEError:
        plan.abort()
        raise
    return plan


def _plan_one(plan: Plan, key: str, value: str) -> str:
    if plan.kind.is_volume_key(key) and not key.startswith("unused"):
        return _plan_volume(plan, key, value)
    if _NET.fullmatch(key):
        return _qemu_nic(plan, value) if plan.kind.name == "qemu" else _lxc_nic(plan, value)
    return value


def _plan_volume(plan: Plan, key: str, value: str) -> str:
    mock, node = plan.mock, plan.node
    volid = volume_of(value) or ""
    if plan.kind.name == "qemu" and is_cdrom(value):
        if volid not in ("", "none", "cdrom"):
            vols.require(mock, volid, node)
        return value
    if plan.kind.name == "lxc" and volid.startswith("/"):
        return value  # a bind or device mount: a host path, no volume (pve-container LXC/Config.pm:1897-1904)
    if plan.kind.name == "qemu" and volid.endswith(":cloudinit"):
        return _plan_cloudinit(plan, key, volid.partition(":")[0], split_prop(value)[1])
    new = vols.NEW_DISK.fullmatch(volid)
    if new is None:
        volume = vols.require(mock, volid, node)
        head, opts = split_prop(value)
        if "size" not in opts:
            return with_size(value, volume.size)
        return join_prop(head, opts)
    store = vols.storage(mock, new.group(1), node)
    content = "images" if plan.kind.name == "qemu" else "rootdir"
    if plan.kind.name == "qemu" or plan.creating:  # qemu-server Qemu.pm:191; pve-container LXC.pm:352-353
        vols.check_content(store, content, "storage")
    elif content not in store.content:  # pve-container src/PVE/LXC/Config.pm:1336
        raise PVEError(500, f"storage '{store.storage}' does not allow content type 'rootdir' (Container)\n")
    size = int(float(new.group(2)) * 1024**3)
    head, opts = split_prop(value)
    source = opts.pop("import-from", None)  # qemu-server API2/Qemu.pm:520-560: the new disk is the source's copy
    if source is not None:
        size = vols.require(mock, source, node).size
    fmt = opts.pop("format", None) or vols.default_format(store, plan.kind.name)
    if plan.kind.name == "lxc" and size == 0 and store.type not in ("dir", "btrfs", "zfspool"):
        raise PVEError(500, f"unable to create containers on storage '{store.storage}' with size 0\n")
    target = vols.new_volid(mock, store, node, plan.vmid, fmt, plan.taken)
    plan.taken.add(target)
    vmid = plan.vmid

    def step() -> None:
        vols.allocate(mock, store, node, vmid, size, content, fmt, target)

    plan.steps.append(step)
    opts.pop("file", None)
    opts.pop("volume", None)
    return with_size(join_prop(target, opts), size)


def _is_cloudinit(value: str) -> bool:
    return bool(_CLOUDINIT.search(volume_of(value) or ""))


def _plan_cloudinit(plan: Plan, key: str, storeid: str, opts: dict[str, str]) -> str:
    """qemu-server API2/Qemu.pm:478-514: one cloud-init drive a VM, ``vm-<vmid>-cloudinit`` (qcow2 on a
    storage with a path), 4 MiB, attached as a CD-ROM."""
    guest = plan.mock.cluster.guests.get(plan.vmid)
    existing = [dict(guest.config), dict(guest.pending)] if guest is not None else []
    for values in [*existing, plan.values]:
        other = next((k for k, v in values.items() if k != key and _is_cloudinit(str(v))), None)
        if other is not None:
            raise PVEError(500, f"{key} - cloud-init drive is already attached at '{other}'\n")
    store = vols.storage(plan.mock, storeid, plan.node)
    fmt = opts.pop("format", None) or ("qcow2" if "path" in store.config else "raw")
    name = f"vm-{plan.vmid}-cloudinit" + (f".{fmt}" if "path" in store.config else "")
    target = f"{store.storage}:{plan.vmid}/{name}" if "path" in store.config else f"{store.storage}:{name}"
    mock, node, vmid = plan.mock, plan.node, plan.vmid

    def step() -> None:
        vols.allocate(mock, store, node, vmid, 4 * 1024**2, "images", fmt, target)

    plan.steps.append(step)
    plan.taken.add(target)
    opts.pop("file", None)
    return join_prop(target, {**opts, "media": "cdrom"})


def _qemu_nic(plan: Plan, value: str) -> str:
    parts = value.split(",")
    first, sep, mac = parts[0].partition("=")  # the model: the schema's net format has checked it
    if not sep or not mac:
        parts[0] = f"{first}={next_mac(plan.mock)}"
    return ",".join(parts)


def _lxc_nic(plan: Plan, value: str) -> str:
    head, opts = split_prop(value)
    if "hwaddr" not in opts:
        ordered: dict[str, str] = {}
        for k, v in opts.items():
            ordered[k] = v
            if k == "bridge":
                ordered["hwaddr"] = next_mac(plan.mock)
        ordered.setdefault("hwaddr", next_mac(plan.mock))
        opts = ordered
    opts.setdefault("type", "veth")
    return join_prop(head, opts)


def check_bridges(mock: Mock, guest: Guest) -> None:
    """At start, as PVE's tap/veth plugging does: every NIC's bridge must exist on the node (among the
    interfaces of the configuration in force: what waits in interfaces.new is not up yet)."""
    if guest.node not in mock.cluster.nodes:
        return
    found = in_force(mock.cluster, guest.node)
    vnets = {vnet for vnet, _, _ in local_vnets(mock.cluster.store, guest.node)}  # applied SDN vnets too
    for key, value in guest.config.items():
        if _NET.fullmatch(key):
            bridge = split_prop(str(value))[1].get("bridge")
            if bridge and bridge not in vnets and found.get(bridge, {}).get("type") not in ("bridge", "OVSBridge"):
                raise PVEError(500, f"bridge '{bridge}' does not exist\n")


def free_slot(config: dict[str, str], prefix: str) -> str:
    index = 0
    while f"{prefix}{index}" in config:
        index += 1
    return f"{prefix}{index}"


def detach(guest: Guest, key: str) -> None:
    """Remove a volume key: its volume becomes ``unusedN`` (as PVE keeps detached disks)."""
    value = guest.config.pop(key, None)
    if value is None or key.startswith("unused") or (guest.kind == "qemu" and is_cdrom(str(value))):
        return
    volid = volume_of(str(value))
    if volid and not any(volume_of(str(v)) == volid for k, v in guest.config.items() if k.startswith("unused")):
        guest.config[free_slot(guest.config, "unused")] = volid
