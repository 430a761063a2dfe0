"""What the guest handlers share: the two kinds (qemu/lxc), property strings, sizes, locks, digests."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ....errors import PVEError
from ...base import Call
from ..perms import fail as perm_fail
from ..runtime import Mock, user_of
from ..state import Guest, GuestKind
from ._params import flag

MiB = 1024**2
GiB = 1024**3
_UNITS = {"": 1, "K": 1024, "M": MiB, "G": GiB, "T": 1024**4}
_SIZE = re.compile(r"(\d+(?:\.\d+)?)([KMGT]?)")

# options a running guest takes at once; the rest waits in ``pending`` until the next start
_QEMU_FAST = {"description", "hookscript", "lock", "migrate_downtime", "migrate_speed", "name", "onboot",
              "protection", "shares", "startup", "tags", "vmstatestorage", "balloon"}
_LXC_HOT = {"description", "hookscript", "lock", "onboot", "protection", "startup", "tags", "memory", "swap",
            "cores", "cpulimit", "cpuunits", "hostname", "nameserver", "searchdomain"}
CONTROL = {"node", "vmid", "digest", "delete", "revert", "skiplock", "force", "background_delay"}


@dataclass(frozen=True)
class Kind:
    """How one guest type differs: names, which keys hold volumes, what a running guest takes live."""

    name: GuestKind
    label: str  # "VM" / "CT", as PVE's messages say
    volume_keys: re.Pattern[str]
    hot_keys: re.Pattern[str]
    task_prefix: str  # qm / vz

    def is_volume_key(self, key: str) -> bool:
        return bool(self.volume_keys.fullmatch(key))

    def takes_live(self, key: str, guest: Guest) -> bool:
        if guest.status != "running":
            return True
        fast = _QEMU_FAST if self.name == "qemu" else _LXC_HOT
        if key in fast or self.hot_keys.fullmatch(key):
            return True
        if self.name == "qemu":
            hotplug = str(guest.config.get("hotplug", "network,disk,usb"))
            feats = {"network", "disk", "usb"} if hotplug == "1" else set(hotplug.split(","))
            return (key in ("memory",) and "memory" in feats) or (key in ("vcpus",) and "cpu" in feats)
        return False


QEMU = Kind("qemu", "VM", re.compile(r"(ide|sata|scsi|virtio)\d+|efidisk0|tpmstate0|unused\d+"),
            re.compile(r"net\d+|(scsi|virtio)\d+|usb\d+"), "qm")
LXC = Kind("lxc", "CT", re.compile(r"rootfs|mp\d+|unused\d+"), re.compile(r"net\d+|mp\d+"), "vz")


def kind_of(guest: Guest) -> Kind:
    return QEMU if guest.kind == "qemu" else LXC


# --- parameters ---------------------------------------------------------------------------------------

def guest_of(mock: Mock, call: Call, kind: Kind) -> Guest:
    return mock.guest(call.path_params["vmid"], call.path_params["node"], kind.name)


def task(mock: Mock, call: Call, guest: Guest | None, kind_name: str, ident: str, finish: Any = None,
         log: list[str] | None = None, cancel: Any = None, error: str | None = None) -> str:
    node = guest.node if guest is not None else call.path_params["node"]
    return mock.tasks.start(node, kind_name, ident, user_of(call), finish=finish, log=log, cancel=cancel,
                            error=error)


def worker(mock: Mock, call: Call, guest: Guest, kind_name: str, checks: Callable[[], None],
           finish: Any = None, begin: Callable[[], None] | None = None) -> str:
    """A task whose ``checks`` PVE makes inside the forked worker: the call answers 200 + UPID either way,
    and a failed check ends the task ``TASK ERROR: <text>`` with nothing changed (clients see it by polling
    the task, as bpg's WaitForTask and Ansible's api_task_ok do). ``begin`` is what the worker does at
    once when they pass (a lock it sets until it ends)."""
    try:
        checks()
    except PVEError as err:
        return mock.tasks.start(guest.node, kind_name, str(guest.vmid), user_of(call),
                                error=err.message.rstrip("\n"))
    if begin is not None:
        begin()
    return task(mock, call, guest, kind_name, str(guest.vmid), finish=finish)


# --- property strings and sizes ---------------------------------------------------------------------

def split_prop(value: str) -> tuple[str | None, dict[str, str]]:
    """``local-lvm:vm-100-disk-0,size=32G`` → (``local-lvm:vm-100-disk-0``, {size: 32G}); keys keep order."""
    head: str | None = None
    opts: dict[str, str] = {}
    for i, part in enumerate(str(value).split(",")):
        if "=" in part:
            k, _, v = part.partition("=")
            opts[k] = v
        elif i == 0:
            head = part
    return head, opts


def join_prop(head: str | None, opts: Mapping[str, str]) -> str:
    parts = [head] if head is not None else []
    parts += [f"{k}={v}" for k, v in opts.items()]
    return ",".join(parts)


def volume_of(value: str) -> str | None:
    """The volume a drive/mount point value names (``file=``/``volume=`` or the first item)."""
    head, opts = split_prop(value)
    return opts.get("file") or opts.get("volume") or head


def is_cdrom(value: str) -> bool:
    head, opts = split_prop(value)
    return opts.get("media") == "cdrom" or head in ("cdrom", "none")


def parse_size(text: str, default_unit: str = "") -> int:
    match = _SIZE.fullmatch(text.strip())
    if match is None:
        raise PVEError.params({"size": f"unable to parse size '{text}'"})
    return int(float(match.group(1)) * _UNITS[match.group(2) or default_unit])


def format_size(size: int) -> str:
    """PVE's ``format_size``: the largest unit that divides the size exactly."""
    for unit in ("T", "G", "M", "K"):
        if size and size % _UNITS[unit] == 0:
            return f"{size // _UNITS[unit]}{unit}"
    return str(size)


def disk_size(value: str) -> int:
    size = split_prop(value)[1].get("size")
    return parse_size(size) if size else 0


def with_size(value: str, size: int) -> str:
    head, opts = split_prop(value)
    opts["size"] = format_size(size)
    return join_prop(head, opts)


# --- checks --------------------------------------------------------------------------------------------

def check_lock(guest: Guest, params: Mapping[str, Any] | None = None) -> None:
    """pve-guest-common src/PVE/AbstractConfig.pm:339: ``VM is locked (backup)``, no VMID."""
    if guest.lock and not (params is not None and flag(params.get("skiplock"))):
        raise PVEError(500, f"{kind_of(guest).label} is locked ({guest.lock})\n")


def check_digest(guest: Guest, params: Mapping[str, Any], assert_modified: bool = False) -> None:
    """QEMU's config and resize say ``checksum mismatch`` (qemu-server Qemu.pm:2211, :6006); its move_disk
    and every LXC check use pve-common's assert_if_modified (Tools.pm:872, Qemu.pm:4866)."""
    digest = params.get("digest")
    if digest and str(digest) != guest.digest:
        if guest.kind == "qemu" and not assert_modified:
            raise PVEError(500, "checksum mismatch (file change by other user?)\n")
        raise PVEError(500, "detected modified configuration - file changed by other user? Try again.\n")


def check_vmid_unused(mock: Mock, vmid: int, prefix: str = "") -> None:
    """pve-cluster src/PVE/Cluster.pm:796 (LXC says it bare; QEMU's create prefixes it, Qemu.pm:1372-1375)."""
    other = mock.cluster.guests.get(vmid)
    if other is not None:
        raise PVEError(500, f"{prefix}{kind_of(other).label} {vmid} already exists on node '{other.node}'\n")


def check_pool(mock: Mock, pool: Any) -> None:
    """pve-access-control RPCEnvironment.pm:376 check_pool_exist: a permission error, even for root."""
    if pool is not None and str(pool) not in mock.cluster.pools:
        raise perm_fail(f"pool '{pool}' does not exist")


def join_pool(mock: Mock, guest: Guest, pool: Any) -> None:
    if pool is not None:
        members = mock.cluster.pools[str(pool)].vmids
        if guest.vmid not in members:
            members.append(guest.vmid)
        guest.pool = str(pool)


def ha_sid(guest: Guest) -> str:
    return f"{'vm' if guest.kind == 'qemu' else 'ct'}:{guest.vmid}"


def ha_state(mock: Mock, guest: Guest) -> dict[str, Any]:
    resource = mock.cluster.ha.get(ha_sid(guest)) or mock.cluster.ha.get(str(guest.vmid))
    if not isinstance(resource, dict):
        return {"managed": 0}
    return {"managed": 1, "state": str(resource.get("state", "started"))}


# --- MAC addresses ------------------------------------------------------------------------------------

def next_mac(mock: Mock) -> str:
    """Proxmox's OUI (BC:24:11) and a deterministic counter for the rest."""
    counter = mock.cluster.next_mac
    mock.cluster.next_mac = counter + 1
    low = counter & 0xFFFFFF
    return "BC:24:11:" + ":".join(f"{(low >> s) & 0xFF:02X}" for s in (16, 8, 0))


# --- typed output ---------------------------------------------------------------------------------------

def typed(config: Mapping[str, Any], returns: Mapping[str, Any]) -> dict[str, Any]:
    """Config values as PVE's JSON has them: integers and numbers by the ``returns`` schema."""
    props: Mapping[str, Any] = returns.get("properties") or {}
    out: dict[str, Any] = {}
    for key, value in config.items():
        schema = props.get(key) or props.get(re.sub(r"\d+$", "[n]", key)) or {}
        out[key] = coerce(value, str(schema.get("type", "string")))
    return out


def coerce(value: Any, kind: str) -> Any:
    try:
        if kind in ("integer", "boolean"):
            return int(value)
        if kind == "number":
            number = float(value)
            return int(number) if number.is_integer() else number
    except (TypeError, ValueError):
        return value
    return value


def creation_target(mock: Mock, call: Call, kind: Kind) -> tuple[str, int]:
    """Where a create puts its guest: the node (which must exist) and a VMID that is free, pool checked
    (QEMU checks the pool with the permissions, then creates the config: Qemu.pm:1372-1375)."""
    node = mock.node(call.path_params["node"]).name
    vmid = int(call.params["vmid"])
    if kind is QEMU:
        check_pool(mock, call.params.get("pool"))
        check_vmid_unused(mock, vmid, f"unable to create VM {vmid} - ")
        return node, vmid
    check_vmid_unused(mock, vmid)
    check_pool(mock, call.params.get("pool"))
    return node, vmid
