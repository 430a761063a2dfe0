"""Figures the mock derives from its state: memory and disk of guests and nodes, uptimes, fingerprints.

Nothing is stored: every answer is computed from the state of the moment, so a guest that was just
created or started shows at once in ``/cluster/resources`` and ``/nodes``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..runtime import Mock
from ..state import Guest, Node, Storage
from ._certificates import node_fingerprint
from ._guest_common import QEMU, is_cdrom

MiB = 1024**2
GiB = 1024**3
NODE_BASE_MEM = 2 * GiB  # what the host itself uses
BOOT = 1735689600 - 86400  # nodes booted a day before the default seed's epoch
_UNITS = {"": 1, "K": 1024, "M": MiB, "G": GiB, "T": 1024**4}
_DISK_KEY = re.compile(r"^(scsi|virtio|sata|ide|efidisk|tpmstate)\d+$|^rootfs$|^mp\d+$")
_SIZE = re.compile(r"(\d+(?:\.\d+)?)([KMGT]?)")
_SIZE_OPTION = re.compile(r"(?:^|,)size=([^,]+)")
_BOOT_ORDER = re.compile(r"order=([^;,\s]+)")
_NET = re.compile(r"net(\d+)")
_SERIAL = re.compile(r"serial\d+")


def parse_size(text: str) -> int:
    match = _SIZE.fullmatch(text.strip())
    return int(float(match.group(1)) * _UNITS[match.group(2)]) if match else 0


def disk_sizes(guest: Guest) -> dict[str, int]:
    """Disk key -> size in bytes (``size=`` of each disk, media=cdrom left out)."""
    return dict(config_facts(guest).disk_sizes)


@dataclass(frozen=True, slots=True)
class ConfigFacts:
    """What the figures take from a guest's configuration alone: worked out once per distinct config,
    since every read of a list or of ``/cluster/resources`` asks it of every guest."""

    disk_sizes: tuple[tuple[str, int], ...]
    maxdisk: int
    maxmem: int
    cpus: float  # sockets x cores (a container: its cores)
    vcpus: int | None  # a VM's ``vcpus``, which wins over sockets x cores
    serial: bool  # a VM with a serial port
    nics: tuple[int, ...]  # a VM's netN numbers, in order
    drives: tuple[tuple[str, bool], ...]  # a VM's volume keys but unused ones, in order, and whether a CD-ROM


# (kind, vmid) -> (the config's items, its facts): worked out again when the config changed (configs are
# changed in place: compared by content, PVE's text values, so a figure is never stale). One per guest,
# and bounded, since every guest a write created leaves its entry behind.
_FACTS: dict[tuple[str, int], tuple[tuple[tuple[str, Any], ...], ConfigFacts]] = {}
_FACTS_MAX = 8192


def config_facts(guest: Guest) -> ConfigFacts:
    items = tuple(guest.config.items())
    slot = (guest.kind, guest.vmid)
    kept = _FACTS.get(slot)
    if kept is not None and kept[0] == items:
        return kept[1]
    facts = _facts(guest)
    if len(_FACTS) >= _FACTS_MAX:
        _FACTS.clear()
    _FACTS[slot] = (items, facts)
    return facts


def _facts(guest: Guest) -> ConfigFacts:
    config = guest.config
    sizes: dict[str, int] = {}
    for key, value in config.items():
        text = str(value)
        if not _DISK_KEY.match(key) or "media=cdrom" in text:
            continue
        size = _SIZE_OPTION.search(text)
        sizes[key] = parse_size(size.group(1)) if size else 0
    qemu = guest.kind == "qemu"
    drives = tuple((k, is_cdrom(str(config[k]))) for k in sorted(config)
                   if qemu and QEMU.is_volume_key(k) and not k.startswith("unused"))
    return ConfigFacts(
        disk_sizes=tuple(sizes.items()), maxdisk=_maxdisk(guest, sizes), maxmem=_maxmem(guest),
        cpus=_guest_cpus(guest), vcpus=int(str(config["vcpus"])) if qemu and "vcpus" in config else None,
        serial=qemu and any(_SERIAL.fullmatch(k) for k in config),
        nics=tuple(sorted(int(match.group(1)) for k in config if (match := _NET.fullmatch(k)))) if qemu else (),
        drives=drives,
    )


def _maxdisk(guest: Guest, sizes: dict[str, int]) -> int:
    if guest.kind == "lxc":
        return sizes.get("rootfs", 0)
    boot = _BOOT_ORDER.search(str(guest.config.get("boot", "")))
    if boot and boot.group(1) in sizes:
        return sizes[boot.group(1)]
    for key in sorted(sizes):
        if not key.startswith(("efidisk", "tpmstate")):
            return sizes[key]
    return 0


def guest_maxdisk(guest: Guest) -> int:
    return config_facts(guest).maxdisk


def _maxmem(guest: Guest) -> int:
    default = 2048 if guest.kind == "qemu" else 512
    try:
        return int(str(guest.config.get("memory", default))) * MiB
    except ValueError:
        return default * MiB


def guest_maxmem(guest: Guest) -> int:
    return config_facts(guest).maxmem


def _guest_cpus(guest: Guest) -> float:
    try:
        cores = int(str(guest.config.get("cores", 1)))
        sockets = int(str(guest.config.get("sockets", 1))) if guest.kind == "qemu" else 1
    except ValueError:
        return 1.0
    return float(cores * sockets)


def guest_cpus(guest: Guest) -> float:
    return config_facts(guest).cpus


RUNNING = frozenset(("running", "paused"))  # a guest's status while its process runs


def guest_running(guest: Guest) -> bool:
    return guest.status in RUNNING


def guest_mem(guest: Guest) -> int:
    return guest_maxmem(guest) * 2 // 5 if guest_running(guest) else 0


def guest_uptime(mock: Mock, guest: Guest, now: int) -> int:
    return max(0, now - guest.started) if guest_running(guest) and guest.started else 0


def node_mem(mock: Mock, node: Node) -> int:
    return node_load(mock, node)[1]


def node_cpu(mock: Mock, node: Node) -> float:
    return node_load(mock, node)[0]


def node_load(mock: Mock, node: Node) -> tuple[float, int]:
    """A node's CPU and memory use: from the guests it runs."""
    running = [g for g in mock.cluster.guests.values() if g.node == node.name and guest_running(g)]
    return _load(node, len(running), sum(guest_mem(g) for g in running))


def node_loads(mock: Mock) -> dict[str, tuple[float, int]]:
    """Every node's ``node_load``, in one pass over the guests (``/nodes`` and ``/cluster/resources``
    show them all)."""
    running: dict[str, int] = {}
    mem: dict[str, int] = {}
    for guest in mock.cluster.guests.values():
        if guest_running(guest):
            running[guest.node] = running.get(guest.node, 0) + 1
            mem[guest.node] = mem.get(guest.node, 0) + guest_mem(guest)
    return {name: _load(node, running.get(name, 0), mem.get(name, 0)) for name, node in mock.cluster.nodes.items()}


def _load(node: Node, running: int, guests_mem: int) -> tuple[float, int]:
    return round(min(1.0, 0.01 + 0.02 * running), 4), min(NODE_BASE_MEM + guests_mem, node.memory)


def node_uptime(node: Node, now: int) -> int:
    return max(0, now - BOOT) if node.online else 0


def fingerprint(node: Node) -> str:
    return node_fingerprint(node)


def storage_content(storage: Storage) -> str:
    return ",".join(sorted(storage.content))


def storage_enabled(storage: Storage) -> bool:
    return str(storage.config.get("disable", "0")) in ("0", "")


def storage_figures(storage: Storage, node: str) -> dict[str, Any]:
    used = storage.total if storage.full else min(storage.used(node), storage.total)
    return {"total": storage.total, "used": used, "avail": storage.total - used}
