"""Figures the mock derives from its state: memory and disk of guests and nodes, uptimes, fingerprints.

Nothing is stored: every answer is computed from the state of the moment, so a guest that was just
created or started shows at once in ``/cluster/resources`` and ``/nodes``.
"""

from __future__ import annotations

import re
from typing import Any

from ..runtime import Mock
from ..state import Guest, Node, Storage
from ._certificates import node_fingerprint

MiB = 1024**2
GiB = 1024**3
NODE_BASE_MEM = 2 * GiB  # what the host itself uses
BOOT = 1735689600 - 86400  # nodes booted a day before the default seed's epoch
_UNITS = {"": 1, "K": 1024, "M": MiB, "G": GiB, "T": 1024**4}
_DISK_KEY = re.compile(r"^(scsi|virtio|sata|ide|efidisk|tpmstate)\d+$|^rootfs$|^mp\d+$")
_SIZE = re.compile(r"(\d+(?:\.\d+)?)([KMGT]?)")
_SIZE_OPTION = re.compile(r"(?:^|,)size=([^,]+)")
_BOOT_ORDER = re.compile(r"order=([^;,\s]+)")


def parse_size(text: str) -> int:
    match = _SIZE.fullmatch(text.strip())
    return int(float(match.group(1)) * _UNITS[match.group(2)]) if match else 0


def disk_sizes(guest: Guest) -> dict[str, int]:
    """Disk key -> size in bytes (``size=`` of each disk, media=cdrom left out)."""
    sizes: dict[str, int] = {}
    for key, value in guest.config.items():
        text = str(value)
        if not _DISK_KEY.match(key) or "media=cdrom" in text:
            continue
        size = _SIZE_OPTION.search(text)
        sizes[key] = parse_size(size.group(1)) if size else 0
    return sizes


def guest_maxdisk(guest: Guest) -> int:
    sizes = disk_sizes(guest)
    if guest.kind == "lxc":
        return sizes.get("rootfs", 0)
    boot = _BOOT_ORDER.search(str(guest.config.get("boot", "")))
    if boot and boot.group(1) in sizes:
        return sizes[boot.group(1)]
    for key in sorted(sizes):
        if not key.startswith(("efidisk", "tpmstate")):
            return sizes[key]
    return 0


def guest_maxmem(guest: Guest) -> int:
    default = 2048 if guest.kind == "qemu" else 512
    try:
        return int(str(guest.config.get("memory", default))) * MiB
    except ValueError:
        return default * MiB


def guest_cpus(guest: Guest) -> float:
    try:
        cores = int(str(guest.config.get("cores", 1)))
        sockets = int(str(guest.config.get("sockets", 1))) if guest.kind == "qemu" else 1
    except ValueError:
        return 1.0
    return float(cores * sockets)


def guest_running(guest: Guest) -> bool:
    return guest.status in ("running", "paused")


def guest_mem(guest: Guest) -> int:
    return guest_maxmem(guest) * 2 // 5 if guest_running(guest) else 0


def guest_uptime(mock: Mock, guest: Guest, now: int) -> int:
    return max(0, now - guest.started) if guest_running(guest) and guest.started else 0


def node_mem(mock: Mock, node: Node) -> int:
    used = NODE_BASE_MEM + sum(guest_mem(g) for g in mock.cluster.guests.values() if g.node == node.name)
    return min(used, node.memory)


def node_cpu(mock: Mock, node: Node) -> float:
    running = sum(1 for g in mock.cluster.guests.values() if g.node == node.name and guest_running(g))
    return round(min(1.0, 0.01 + 0.02 * running), 4)


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
