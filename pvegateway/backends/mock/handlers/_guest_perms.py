"""What creating a guest asks of the caller beyond ``user: all``, in PVE's order.

qemu-server ``src/PVE/API2/Qemu.pm`` create_vm (:1294-1365) and pve-container ``src/PVE/API2/LXC.pm``
create_vm (:269-411): ``VM.Allocate`` on ``/vms/{vmid}`` or on the pool, then each option's privilege
(``$check_vm_modify_config_perm``, ``PVE::LXC::check_ct_modify_config_perm``), ``Datastore.AllocateSpace``
on every storage a new disk is allocated on, access to every existing volume used, and ``SDN.Use`` on the
bridges. Options are checked in sorted order (PVE walks a Perl hash, in no fixed order).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ....errors import PVEError
from ...base import Call, Identity
from ..perms import ROOT, Permissions, fail
from ..runtime import Mock
from ._guest_common import check_pool, split_prop
from ._params import flag
from ._volume_access import check_volume_access

# Qemu.pm:789-862: the privilege each plain option needs
_QEMU_OPTION_PRIVS: Mapping[str, str] = {
    **dict.fromkeys(("cores", "cpu", "runningcpu", "cpulimit", "cpuunits", "numa", "smp", "sockets", "vcpus"),
                    "VM.Config.CPU"),
    **dict.fromkeys(("memory", "balloon", "shares", "allow-ksm"), "VM.Config.Memory"),
    **dict.fromkeys(("acpi", "hotplug", "kvm", "machine", "runningmachine", "scsihw", "smbios1", "tablet", "vga",
                     "watchdog", "audio0", "rng0"), "VM.Config.HWType"),
    **dict.fromkeys(("agent", "autostart", "bios", "description", "keyboard", "localtime", "migrate_downtime",
                     "migrate_speed", "name", "onboot", "ostype", "protection", "reboot", "startdate", "startup",
                     "tdf", "template"), "VM.Config.Options"),
    "freeze": "VM.PowerMgmt",
    **dict.fromkeys(("boot", "bootdisk", "vmstatestorage"), "VM.Config.Disk"),
}
_QEMU_CLOUDINIT = {"cicustom", "cipassword", "citype", "ciuser", "ciupgrade", "nameserver", "searchdomain", "sshkeys"}
_QEMU_DRIVE = re.compile(r"(ide|sata|scsi|virtio)\d+|efidisk0|tpmstate0")
_QEMU_ELSEWHERE = re.compile(r"(unused|serial|usb|hostpci|virtiofs)\d+|cdrom|tags")  # checked by value
_QEMU_NEW_DISK = re.compile(r"^(([^/:\s]+):)?(\d+(\.\d+)?)$")  # QemuServer/Drive.pm:159
_LXC_NEW_DISK = re.compile(r"^([^:\s]+):(\d+(\.\d+)?)$")  # LXC.pm:63
_QEMU_CREATE_ONLY = ("node", "vmid", "archive", "bwlimit", "force", "pool", "start", "ha-managed", "storage",
                     "unique", "live-restore", "import-working-storage")
_LXC_CREATE_ONLY = ("node", "vmid", "ignore-unpack-errors", "bwlimit", "start", "ha-managed", "unprivileged",
                    "restore", "unique", "force", "password", "ssh-public-keys", "pool", "ostemplate", "storage")


def _allocate(perms: Permissions, identity: Identity | None, vmid: int, pool: Any, restoring: bool) -> None:
    """VM.Allocate on /vms/{vmid} or the pool; a restore over an existing guest also takes VM.Backup."""
    if perms.check(identity, f"/vms/{vmid}", ["VM.Allocate"], noerr=True):
        return
    if pool and perms.check(identity, f"/pool/{pool}", ["VM.Allocate"], noerr=True):
        return
    if restoring and perms.check(identity, f"/vms/{vmid}", ["VM.Backup"], noerr=True):
        return
    raise fail()


def bridge_access(perms: Permissions, identity: Identity | None, value: str) -> None:
    """pve-guest-common GuestHelpers.pm:397 check_vnet_access: SDN.Use on the bridge, or on each VLAN."""
    _, opts = split_prop(value)
    bridge = opts.get("bridge")
    if bridge is None:
        return
    base = f"/sdn/zones/localnetwork/{bridge}"
    tags = [opts["tag"]] if opts.get("tag") else []
    tags += [t for t in re.split(r"[;,]", opts.get("trunks", "")) if t]
    for tag in tags:
        perms.check(identity, f"{base}/{tag}", ["SDN.Use"])
    if not tags:
        perms.check(identity, base, ["SDN.Use"])


def qemu_create(mock: Mock, call: Call, vmid: int) -> None:
    """Qemu.pm:1294-1365, up to the config checks (the rest is the mock's own creation)."""
    identity = call.identity
    params = call.params
    pool, storage = params.get("pool"), params.get("storage")
    check_pool(mock, pool)
    if identity is None or identity.authid == ROOT:
        return
    perms = mock.permissions
    if storage is not None:
        perms.check(identity, f"/storage/{storage}", ["Datastore.AllocateSpace"])
    if flag(params.get("ha-managed")):
        perms.check(identity, "/", ["Sys.Console"])
    if flag(params.get("start")):
        perms.check_vm_perm(identity, vmid, pool, ["VM.PowerMgmt"])
    archive = params.get("archive")
    _allocate(perms, identity, vmid, pool, bool(archive and flag(params.get("force"))
                                                 and vmid in mock.cluster.guests))
    if archive and archive != "-":
        check_volume_access(mock, identity, str(archive), vmid, "backup")
    options = {k: str(v) for k, v in sorted(params.items()) if k not in _QEMU_CREATE_ONLY and v is not None}
    for key, value in options.items():  # Qemu.pm:163 $check_storage_access
        if _QEMU_DRIVE.fullmatch(key):
            _qemu_drive(mock, identity, vmid, key, value, storage)
    for key in options:  # Qemu.pm:995 $check_vm_modify_config_perm
        _qemu_option(perms, identity, vmid, pool, key)
    for key, value in options.items():
        if key.startswith("net"):
            bridge_access(perms, identity, value)


def _qemu_drive(mock: Mock, identity: Identity | None, vmid: int, key: str, value: str, default: Any) -> None:
    head, opts = split_prop(value)
    volid = opts.get("file") or head or ""
    cdrom = opts.get("media") == "cdrom"
    if volid in ("none", "cloudinit") or volid.endswith(":cloudinit"):
        return
    if cdrom and volid == "cdrom":
        mock.permissions.check(identity, "/", ["Sys.Console"])
        return
    new = _QEMU_NEW_DISK.match(volid)
    if not cdrom and new:
        storeid = new.group(2) or default
        if not storeid:
            raise PVEError(500, "no storage ID specified (and no default storage)\n")
        mock.permissions.check(identity, f"/storage/{storeid}", ["Datastore.AllocateSpace"])
    else:
        check_volume_access(mock, identity, volid, vmid)


def _qemu_option(perms: Permissions, identity: Identity | None, vmid: int, pool: Any, key: str) -> None:
    if _QEMU_DRIVE.fullmatch(key) or _QEMU_ELSEWHERE.fullmatch(key):
        return
    priv = _QEMU_OPTION_PRIVS.get(key)
    if priv is None and re.fullmatch(r"numa\d+", key):
        priv = "VM.Config.CPU"
    if priv is not None:
        perms.check_vm_perm(identity, vmid, pool, [priv])
        if key == "startup":
            perms.check(identity, "/", ["Sys.Modify"])
    elif re.fullmatch(r"net\d+|running-nets-host-mtu", key):
        perms.check_vm_perm(identity, vmid, pool, ["VM.Config.Network"])
    elif key in _QEMU_CLOUDINIT or re.fullmatch(r"ipconfig\d+", key):
        perms.check_vm_perm(identity, vmid, pool, ["VM.Config.Cloudinit", "VM.Config.Network"], any_=True)
    elif key == "vmstate":
        perms.check_vm_perm(identity, vmid, pool, ["VM.Config.Disk", "VM.PowerMgmt"])
    else:
        raise PVEError(500, f"only root can set '{key}' config\n")


def lxc_create_early(mock: Mock, call: Call) -> None:
    """LXC.pm:269-276, before the VMID and pool checks (the mock's ``creation_target``)."""
    identity = call.identity
    if identity is None or identity.authid == ROOT:
        return
    perms = mock.permissions
    params = call.params
    restore = flag(params.get("restore"))
    if not restore and not flag(params.get("unprivileged"), default=True):
        perms.check(identity, "/", ["Sys.Modify"])
    if flag(params.get("ha-managed")):
        perms.check(identity, "/", ["Sys.Console"])


def lxc_create(mock: Mock, call: Call, vmid: int) -> None:
    """LXC.pm:295-411: VM.Allocate, each option, the template, the storages of the volumes."""
    identity = call.identity
    if identity is None or identity.authid == ROOT:
        return
    perms = mock.permissions
    params = call.params
    pool = params.get("pool")
    existing = vmid in mock.cluster.guests
    _allocate(perms, identity, vmid, pool, flag(params.get("restore")) and flag(params.get("force")) and existing)
    options = {k: str(v) for k, v in sorted(params.items()) if k not in _LXC_CREATE_ONLY and v is not None}
    unprivileged = flag(params.get("unprivileged"), default=True)
    for key, value in options.items():
        _lxc_option(mock, identity, vmid, pool, key, value, unprivileged)
    template = str(params["ostemplate"])
    if template != "-":
        check_volume_access(mock, identity, template, vmid, "backup" if flag(params.get("restore")) else "vztmpl")
    storage = str(params.get("storage") or "local")
    for key, value in options.items():
        if key == "rootfs" or re.fullmatch(r"mp\d+", key):
            volid = value.split(",", 1)[0].removeprefix("volume=")
            if re.fullmatch(r"\d+(\.\d+)?", volid):
                volid = f"{storage}:{volid}"
            perms.check(identity, f"/storage/{volid.partition(':')[0]}", ["Datastore.AllocateSpace"])
    if "rootfs" not in options:
        perms.check(identity, f"/storage/{storage}", ["Datastore.AllocateSpace"])


def _lxc_option(mock: Mock, identity: Identity | None, vmid: int, pool: Any, key: str, value: str,
                unprivileged: bool) -> None:
    """LXC.pm:1661-1745 check_ct_modify_config_perm, for a new container."""
    perms = mock.permissions
    if key in ("cores", "cpuunits", "cpulimit"):
        perms.check_vm_perm(identity, vmid, pool, ["VM.Config.CPU"])
    elif key == "rootfs" or re.fullmatch(r"mp\d+", key):
        perms.check_vm_perm(identity, vmid, pool, ["VM.Config.Disk"])
        head, opts = split_prop(value)
        volid = opts.get("volume") or head or ""
        if volid.startswith("/"):
            kind = "device" if volid.startswith("/dev/") else "bind"
            raise fail(f"mount point type {kind} is only allowed for root@pam")
        new = _LXC_NEW_DISK.match(volid)
        if new:
            perms.check(identity, f"/storage/{new.group(1)}", ["Datastore.AllocateSpace"])
        else:  # a bare size too: PVE checks the raw value, which names no storage
            check_volume_access(mock, identity, volid, vmid, "rootdir")
    elif key in ("memory", "swap"):
        perms.check_vm_perm(identity, vmid, pool, ["VM.Config.Memory"])
    elif re.fullmatch(r"net\d+", key):
        perms.check_vm_perm(identity, vmid, pool, ["VM.Config.Network"])
        bridge_access(perms, identity, value)
    elif re.fullmatch(r"dev\d+", key):
        raise fail("configuring device passthrough is only allowed for root@pam")
    elif key in ("nameserver", "searchdomain", "hostname"):
        perms.check_vm_perm(identity, vmid, pool, ["VM.Config.Network"])
    elif key == "features":
        if not unprivileged:
            raise fail("changing feature flags for privileged container is only allowed for root@pam")
        if value.strip() not in ("nesting=1", "nesting=0"):
            raise fail("changing feature flags (except nesting) is only allowed for root@pam")
        perms.check_vm_perm(identity, vmid, pool, ["VM.Allocate"])
    elif key == "hookscript":
        raise fail("changing the hookscript is only allowed for root@pam")
    elif key != "tags":
        perms.check_vm_perm(identity, vmid, pool, ["VM.Config.Options"])


# --- config updates (PUT/POST .../config: the schema asks for any VM.Config.* privilege only) ------------

_CLOUDINIT_DRIVE = re.compile(r"(^|[:/])(vm-\d+-)?cloudinit([.,]|$)")


def _drive_perm(perms: Permissions, identity: Identity | None, vmid: int, value: str) -> None:
    """Qemu.pm:2273-2288 $check_drive_perms: a cloud-init drive, a CD-ROM or a disk."""
    head, opts = split_prop(value)
    volid = opts.get("file") or head or ""
    if _CLOUDINIT_DRIVE.search(volid):
        perms.check_vm_perm(identity, vmid, None, ["VM.Config.Cloudinit", "VM.Config.CDROM"])
    elif opts.get("media") == "cdrom" or volid in ("cdrom", "none"):
        perms.check_vm_perm(identity, vmid, None, ["VM.Config.CDROM"])
    else:
        perms.check_vm_perm(identity, vmid, None, ["VM.Config.Disk"])


def qemu_update(mock: Mock, call: Call, config: Mapping[str, Any], changes: Mapping[str, str],
                deletes: list[str]) -> None:
    """Qemu.pm:2093-2204 and the drive checks of its update (:2273-2330), before the config is locked."""
    identity = call.identity
    if identity is None or identity.authid == ROOT:
        return
    perms = mock.permissions
    vmid = int(call.params["vmid"])
    if flag(call.params.get("skiplock")):
        raise PVEError.params({"skiplock": "Only root may use this option."})
    for key in sorted(deletes):
        _qemu_option(perms, identity, vmid, None, key)
    for key in sorted(changes):
        _qemu_option(perms, identity, vmid, None, key)
    for key, value in sorted(changes.items()):
        if _QEMU_DRIVE.fullmatch(key):
            _qemu_drive(mock, identity, vmid, key, value, None)
        elif key.startswith("net"):
            bridge_access(perms, identity, value)
    for key in sorted(deletes):
        if key.startswith("unused"):
            perms.check_vm_perm(identity, vmid, None, ["VM.Config.Disk"])
        elif _QEMU_DRIVE.fullmatch(key) and key in config:
            _drive_perm(perms, identity, vmid, str(config[key]))
    for key, value in sorted(changes.items()):
        if _QEMU_DRIVE.fullmatch(key):
            _drive_perm(perms, identity, vmid, value)


def lxc_update(mock: Mock, call: Call, config: Mapping[str, Any], changes: Mapping[str, str],
               deletes: list[str]) -> None:
    """pve-container API2/LXC/Config.pm:178-185 and update_pct_config: check_ct_modify_config_perm for
    what is deleted and what is set, with the container's own ``unprivileged``."""
    identity = call.identity
    if identity is None or identity.authid == ROOT:
        return
    perms = mock.permissions
    vmid = int(call.params["vmid"])
    unprivileged = str(config.get("unprivileged", "0")) == "1"
    for key in sorted(deletes):
        if key == "rootfs" or re.fullmatch(r"mp\d+|unused\d+", key):
            perms.check_vm_perm(identity, vmid, None, ["VM.Config.Disk"])
        elif key == "features":
            _lxc_option(mock, identity, vmid, None, key, str(config.get(key, "")), unprivileged)
        elif not re.fullmatch(r"net\d+", key):
            _lxc_option(mock, identity, vmid, None, key, "", unprivileged)
        else:
            perms.check_vm_perm(identity, vmid, None, ["VM.Config.Network"])
            bridge_access(perms, identity, str(config.get(key, "")))
    for key, value in sorted(changes.items()):
        _lxc_option(mock, identity, vmid, None, key, value, unprivileged)
        if re.fullmatch(r"net\d+", key) and key in config:
            bridge_access(perms, identity, str(config[key]))  # LXC.pm:1684: the old bridge too
