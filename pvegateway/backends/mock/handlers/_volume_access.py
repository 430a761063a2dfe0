"""Who may use a volume: pve-storage ``PVE::Storage::check_volume_access`` (src/PVE/Storage.pm:619).

The content type and owner come from the volume name, as the storage plugins' ``parse_volname`` read it
(``iso/...``, ``backup/vzdump-qemu-100-...``, ``vm-100-disk-0``, ``100/vm-100-disk-0.qcow2``), so the
check needs no existing volume, like PVE's; a name no plugin reads falls back to the stored volume.
"""

from __future__ import annotations

import re
from typing import Any

from ....errors import PVEError
from ...base import Identity
from ..runtime import Mock

_BY_FOLDER = {"iso": "iso", "vztmpl": "vztmpl", "snippets": "snippets", "import": "import", "backup": "backup"}
_BACKUP_OWNER = re.compile(r"^backup/vzdump-(?:qemu|lxc|openvz)-(\d+)-")
_IMAGE_OWNER = re.compile(r"(?:^|/)(?:vm|base|subvol|basevol)-(\d+)-[^/]*$")


def volume_kind(mock: Mock, volid: str, node: str | None = None) -> tuple[str, int | None] | None:
    """(content type, owner VMID) of a volume, or None when neither its name nor the mock know it."""
    _, _, name = volid.partition(":")
    folder = name.partition("/")[0]
    if folder in _BY_FOLDER and "/" in name:
        owner = _BACKUP_OWNER.match(name)
        return _BY_FOLDER[folder], int(owner.group(1)) if owner else None
    image = _IMAGE_OWNER.search(name)
    if image:
        return "images", int(image.group(1))
    for store in mock.cluster.storages.values():
        for bucket in ([store.bucket(node)] if node else store.volumes.values()):
            volume = bucket.get(volid)
            if volume is not None:
                return ("images" if volume.content == "rootdir" else volume.content), volume.vmid
    return None


def check_volume_access(mock: Mock, identity: Identity | None, volid: str, vmid: Any = None,
                        content: str | None = None, node: str | None = None) -> None:
    """Storage.pm:619-656: Datastore.Allocate on the storage is enough; templates and ISOs need
    Datastore.AllocateSpace or .Audit; a guest's own volumes are its own; backups need AllocateSpace plus
    VM.Backup on the owner, disks Datastore.Audit plus VM.Config.Disk on the owner."""
    perms = mock.permissions
    storeid, sep, _ = volid.partition(":")
    if not sep:
        if identity is not None and identity.authid != "root@pam":
            raise PVEError(500, "Only root can pass arbitrary filesystem paths.\n")
        return
    kind = volume_kind(mock, volid, node)
    if kind is None:
        raise PVEError(500, f"unable to parse volume ID '{volid}'\n")
    vtype, owner = kind
    if content is not None and vtype != content and not (content == "rootdir" and vtype == "images"):
        raise PVEError(500, f"unable to use volume {volid} - content type needs to be '{content}'\n")
    if perms.check(identity, f"/storage/{storeid}", ["Datastore.Allocate"], noerr=True):
        return
    if vtype in ("iso", "vztmpl", "import"):
        perms.check_any(identity, f"/storage/{storeid}", ["Datastore.AllocateSpace", "Datastore.Audit"])
    elif owner is not None and vmid is not None and owner == int(vmid):
        return
    elif vtype == "backup" and owner:
        perms.check(identity, f"/storage/{storeid}", ["Datastore.AllocateSpace"])
        perms.check(identity, f"/vms/{owner}", ["VM.Backup"])
    elif vtype in ("images", "rootdir") and owner:
        perms.check(identity, f"/storage/{storeid}", ["Datastore.Audit"])
        perms.check(identity, f"/vms/{owner}", ["VM.Config.Disk"])
    else:
        raise PVEError(500, f"missing privileges to access {volid}\n")
