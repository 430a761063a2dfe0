"""What vzdump reads and writes: the guests a selection names (a backup job's or a vzdump call's), the
volumes of a guest a backup includes, the notes a template gives a backup, and the guest configuration a
backup archive records (what ``extractconfig`` shows and a restore brings back).
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from typing import Any

from ....errors import PVEError
from ..runtime import Mock
from ..state import Guest, Volume
from ._guest_common import is_cdrom, kind_of, split_prop, volume_of
from ._params import flag, id_list

BACKUP_NAME = re.compile(r"vzdump-(qemu|lxc|openvz)-(\d+)-(\d{4})_(\d\d)_(\d\d)-(\d\d)_(\d\d)_(\d\d)\.(.+)")
_COMPRESSION = {"1": "lzo", "lzo": "lzo", "gzip": "gz", "pigz": "gz", "zstd": "zst"}  # VZDump.pm:840-868
_TEMPLATE_VARIABLES = ("cluster", "guestname", "node", "vmid")


def included_guests(mock: Mock, selection: Mapping[str, Any]) -> dict[str, list[int]]:
    """pve-manager PVE/VZDump.pm:1580-1617 get_included_guests: a pool's guests, the listed VMIDs, or
    all but the excluded ones, by node; a VMID no guest has is listed under the node ``''``, and a
    selection bound to a ``node`` keeps only that node's guests."""
    guests = mock.cluster.guests
    if selection.get("pool"):
        pool = mock.cluster.pools.get(str(selection["pool"]))
        vmids = list(pool.vmids) if pool is not None else []
    elif selection.get("vmid"):
        vmids = [int(v) for v in id_list(selection["vmid"]) if v.isdigit()]
    elif flag(selection.get("all")):
        excluded = {int(v) for v in id_list(selection.get("exclude")) if v.isdigit()}
        vmids = [v for v in guests if v not in excluded]
    else:
        return {}
    by_node: dict[str, list[int]] = {}
    wanted = selection.get("node")
    for vmid in sorted(set(vmids)):
        guest = guests.get(vmid)
        if guest is None:
            by_node.setdefault("", []).append(vmid)
        elif wanted is None or str(wanted) == guest.node:
            by_node.setdefault(guest.node, []).append(vmid)
    return by_node


def backup_volumes(guest: Guest) -> list[dict[str, Any]]:
    """What a backup of the guest includes, key by key: qemu-server QemuConfig.pm:181-212 (every drive
    but CD-ROMs, ``backup=0`` leaves one out, an EFI disk only with OVMF), pve-container
    LXC/Config.pm:66-86 and :2095-2115 (the root file system, mount points with ``backup=1`` that are
    volumes)."""
    kind = kind_of(guest)
    out = []
    for key, value in guest.config.items():
        if not kind.is_volume_key(key) or key.startswith("unused"):
            continue
        text = str(value)
        _, opts = split_prop(text)
        if guest.kind == "qemu":
            if is_cdrom(text):
                continue
            included = opts.get("backup", "1") not in ("0", "no", "off", "false")
            reason = "backup=" + ("yes" if "backup" not in opts else "no")
            if key.startswith("efidisk") and guest.config.get("bios") != "ovmf":
                included, reason = False, "efidisk but no OVMF BIOS"
        elif key == "rootfs":
            included, reason = True, "rootfs"
        elif (volume_of(text) or "").startswith("/"):
            included, reason = False, "not a volume"
        elif opts.get("backup", "0") in ("1", "yes", "on", "true"):
            included, reason = True, "enabled"
        else:
            included, reason = False, "disabled"
        out.append({"key": key, "volume": volume_of(text) or text, "included": included, "reason": reason})
    return out


def verify_notes_template(template: str) -> None:
    """pve-manager PVE/VZDump.pm:99-118: no line feed, only ``\\n`` and ``\\\\`` escapes, only the known
    ``{{variables}}`` (positions as PVE counts them)."""
    if "\n" in template:
        raise ValueError("contains a line feed")
    problems = [f"escape sequence '\\{m.group(1)}' at char {m.start()}"
                for m in re.finditer(r"\\(.)", template) if m.group(1) not in ("n", "\\")]
    problems += [f"variable '{m.group(1)}' at char {m.end() - len(m.group(1))}"
                 for m in re.finditer(r"\{\{([^\s{}]+)\}\}", template) if m.group(1) not in _TEMPLATE_VARIABLES]
    if problems:
        raise ValueError("found unknown: " + ", ".join(problems))


def verify_parameters(params: Mapping[str, Any], check_missing: bool) -> None:
    """pve-manager PVE/VZDump.pm:1527-1555 verify_vzdump_parameters: the selection's conflicts, the notes
    template, and (for a backup to run) something selected; ``exclude`` alone means all (:1551)."""
    for option in ("all", "exclude", "pool"):
        if params.get(option) and params.get("vmid") and (option != "all" or flag(params.get("all"))):
            raise PVEError.params({option: "option conflicts with option 'vmid'"})
    template = params.get("notes-template")
    if template:
        try:
            verify_notes_template(str(template))
        except ValueError as err:
            raise PVEError.params({"notes-template": f"{err}\n"}) from None
    if check_missing and not (flag(params.get("all")) or params.get("exclude") is not None
                              or flag(params.get("stop")) or params.get("pool")) and not params.get("vmid"):
        raise PVEError.params({"vmid": "property is missing"})


def notes(template: str, mock: Mock, guest: Guest) -> str:
    """VZDump.pm:120-145 generate_notes: the escapes resolved, then the variables filled in."""
    name = guest.config.get("hostname") if guest.kind == "lxc" else guest.config.get("name")
    info = {"cluster": mock.cluster.name, "guestname": str(name or f"VM {guest.vmid}"), "node": guest.node,
            "vmid": str(guest.vmid)}
    text = re.sub(r"\\(.)", lambda m: "\\" if m.group(1) == "\\" else "\n", template)
    return re.sub(r"\{\{(" + "|".join(info) + r")\}\}", lambda m: info[m.group(1)], text)


def archive_format(kind: str, compress: Any) -> str:
    """VZDump.pm:997-1001: ``vma`` for a VM, ``tar`` for a container, then the compressor's extension."""
    extension = _COMPRESSION.get(str(compress or "0"))
    return ("vma" if kind == "qemu" else "tar") + (f".{extension}" if extension else "")


def archive_volid(storage: str, kind: str, vmid: int, now: int, fmt: str) -> str:
    """VZDump.pm:950-952: ``vzdump-<type>-<vmid>-<time>`` (the mock's nodes keep UTC)."""
    stamp = time.strftime("%Y_%m_%d-%H_%M_%S", time.gmtime(now))
    return f"{storage}:backup/vzdump-{kind}-{vmid}-{stamp}.{fmt}"


def archive_kind(volid: str) -> str | None:
    """The guest type a backup's name records (pve-storage Storage.pm archive_info), or None."""
    match = BACKUP_NAME.fullmatch(volid.rpartition("/")[2])
    return None if match is None else ("lxc" if match.group(1) == "openvz" else match.group(1))


def recorded_config(volume: Volume) -> dict[str, str]:
    """The configuration the backup holds; pve-storage Storage.pm:1878: one without fails as PVE's
    extraction does."""
    if volume.config is None:
        raise PVEError(500, "ERROR: archive contains no configuration file\n")
    return dict(volume.config)


def config_text(config: Mapping[str, Any]) -> str:
    """The configuration file as the archive holds it (pve-guest-common AbstractConfig write_config):
    the description as leading comment lines, then ``key: value`` lines."""
    lines = [f"#{line}" for line in str(config.get("description", "")).splitlines()]
    lines += [f"{k}: {v}" for k, v in sorted(config.items()) if k not in ("description", "lock")]
    return "".join(f"{line}\n" for line in lines)
