"""Mock handlers: storage config, per-node status and content (pve-storage ``src/PVE/API2/Storage/*``)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from ....errors import PVEError
from ...base import Call
from ..runtime import Handler, Mock, user_of
from ..state import Storage, Volume
from . import _backups, _upload
from . import _metrics as m
from . import _storage_config as cfg
from . import _volumes as vols
from ._volume_access import check_volume_access, volume_kind

_FORMATS = {"dir": ["raw", "qcow2", "vmdk"], "nfs": ["raw", "qcow2", "vmdk"], "cifs": ["raw", "qcow2", "vmdk"]}
_PATHS = {"lvmthin": "/dev/{vg}/{name}", "lvm": "/dev/{vg}/{name}"}


def _visible(mock: Mock, call: Call, storage: Storage) -> bool:
    if call.identity is None:
        return True
    have = mock.permissions.privileges(call.identity, f"/storage/{storage.storage}")
    return bool(have & {"Datastore.Audit", "Datastore.AllocateSpace"})


def _on_node(mock: Mock, call: Call) -> tuple[str, Storage]:
    node = mock.node(str(call.params["node"])).name
    storage = cfg.lookup(mock, str(call.params["storage"]))
    if not storage.available_on(node):
        raise PVEError(500, f"storage '{storage.storage}' is not available on node '{node}'\n")
    return node, storage


def _status(storage: Storage, node: str) -> dict[str, Any]:
    enabled = m.storage_enabled(storage)
    entry: dict[str, Any] = {"storage": storage.storage, "type": storage.type,
                             "content": m.storage_content(storage), "shared": int(storage.shared),
                             "enabled": int(enabled), "active": int(enabled)}
    if enabled:
        figures = m.storage_figures(storage, node)
        entry.update(figures)
        entry["used_fraction"] = figures["used"] / figures["total"] if figures["total"] else 0
    return entry


def node_storages(mock: Mock, call: Call) -> list[dict[str, Any]]:
    params = call.params
    node = mock.node(str(params["node"])).name
    content = set(cfg._split(params.get("content")))
    target = params.get("target")
    if target and target != node:
        mock.node(str(target))
    out = []
    for storage in mock.cluster.storages.values():
        if not storage.available_on(node) or not _visible(mock, call, storage):
            continue
        if params.get("storage") and storage.storage != params["storage"]:
            continue
        if content and not content & set(storage.content):
            continue
        if params.get("enabled") and not m.storage_enabled(storage):
            continue
        if target and target != node and not (storage.shared and storage.available_on(str(target))):
            continue
        entry = _status(storage, node)
        if params.get("format"):
            formats = _FORMATS.get(storage.type, ["raw"])
            entry["formats"] = {"default": formats[0], "valid": formats}
            entry["select_existing"] = int(storage.type in ("iscsi", "iscsidirect"))
        out.append(entry)
    return out


def storage_index(mock: Mock, call: Call) -> list[dict[str, str]]:
    _on_node(mock, call)
    names = ["content", "download-url", "file-restore", "import-metadata", "prunebackups", "rrd", "rrddata",
             "status", "upload"]
    return [{"subdir": n} for n in names]


def storage_status(mock: Mock, call: Call) -> dict[str, Any]:
    node, storage = _on_node(mock, call)
    entry = _status(storage, node)
    entry.pop("storage")
    entry.pop("used_fraction", None)
    return entry


def _volume_entry(volume: Volume) -> dict[str, Any]:
    entry: dict[str, Any] = {"volid": volume.volid, "content": volume.content, "format": volume.format,
                             "size": volume.size, "ctime": volume.ctime}
    if volume.vmid is not None:
        entry["vmid"] = volume.vmid
    if volume.content in ("images", "rootdir"):
        entry["used"] = volume.size
    if volume.content == "backup":  # pve-storage Storage/Plugin.pm:1730: the guest type the name records
        entry["subtype"] = _backups.archive_kind(volume.volid) or "unknown"
    if volume.notes:
        entry["notes"] = volume.notes
    if volume.protected:
        entry["protected"] = 1
    return entry


def content_index(mock: Mock, call: Call) -> list[dict[str, Any]]:
    node, storage = _on_node(mock, call)
    wanted = call.params.get("content")
    vmid = call.params.get("vmid")
    out = []
    for volume in sorted(storage.bucket(node).values(), key=lambda v: v.volid):
        if wanted and volume.content != wanted:
            continue
        if vmid is not None and volume.vmid != int(vmid):
            continue
        out.append(_volume_entry(volume))
    return out


def _volume(mock: Mock, call: Call, may: Callable[[str, str], None]) -> tuple[str, Storage, Volume]:
    """The volume of a content call; ``may`` checks the caller's access to it by its ID first, as
    pve-storage API2/Storage/Content.pm does before it looks at the volume."""
    node, storage = _on_node(mock, call)
    text = str(call.params["volume"])
    volid = text if ":" in text else f"{storage.storage}:{text}"
    if volid.split(":", 1)[0] != storage.storage:  # Content.pm:286-291: the eval's text, newline and all
        raise PVEError.params({"volume": f"storage ID mismatch ({volid.split(':', 1)[0]} != {storage.storage})\n"})
    may(volid, node)
    volume = storage.bucket(node).get(volid)
    if volume is None:
        raise PVEError(500, f"no such volume '{volid}'\n")
    return node, storage, volume


def _readable(mock: Mock, call: Call) -> Callable[[str, str], None]:
    """Content.pm:369 and :440: read and update need check_volume_access."""
    return lambda volid, node: check_volume_access(mock, call.identity, volid, node=node)


def _deletable(mock: Mock, call: Call) -> Callable[[str, str], None]:
    """Content.pm:501-507: a guest's backup needs Datastore.AllocateSpace and VM.Backup on the guest,
    anything else Datastore.Allocate."""
    def check(volid: str, node: str) -> None:
        perms = mock.permissions
        kind = volume_kind(mock, volid, node)
        storeid = volid.partition(":")[0]
        if kind is not None and kind[0] == "backup" and kind[1]:
            perms.check(call.identity, f"/storage/{storeid}", ["Datastore.AllocateSpace"])
            perms.check(call.identity, f"/vms/{kind[1]}", ["VM.Backup"])
        else:
            perms.check(call.identity, f"/storage/{storeid}", ["Datastore.Allocate"])
    return check


def volume_path(storage: Storage, volume: Volume) -> str:
    """The file or device a volume is (pve-storage ``PVE::Storage::path``)."""
    name = volume.volid.split(":", 1)[1]
    if storage.type in _PATHS:
        return _PATHS[storage.type].format(vg=storage.config.get("vgname", "pve"), name=name)
    base = str(storage.config.get("path", f"/mnt/pve/{storage.storage}"))
    if volume.content in ("images", "rootdir") and volume.vmid is not None:
        return f"{base}/images/{volume.vmid}/{name.split('/')[-1]}"
    folder = {"iso": "template/iso", "vztmpl": "template/cache", "backup": "dump", "snippets": "snippets"}
    kind, _, file = name.partition("/")
    return f"{base}/{folder.get(kind, kind)}/{file or name}"


def volume_info(mock: Mock, call: Call) -> dict[str, Any]:
    _node, storage, volume = _volume(mock, call, _readable(mock, call))
    return {"path": volume_path(storage, volume), "size": volume.size, "used": volume.size, "format": volume.format,
            "notes": volume.notes, "protected": int(volume.protected)}


def volume_update(mock: Mock, call: Call) -> None:
    _node, _storage, volume = _volume(mock, call, _readable(mock, call))
    if call.params.get("notes") is not None:
        volume.notes = str(call.params["notes"])
    if call.params.get("protected") is not None:
        volume.protected = str(call.params["protected"]) in ("1", "True", "true")


def _referenced(mock: Mock, volume: Volume) -> bool:
    guest = mock.cluster.guests.get(volume.vmid) if volume.vmid is not None else None
    if guest is None:
        return False
    return any(str(v).split(",", 1)[0] == volume.volid for v in guest.config.values())


def volume_delete(mock: Mock, call: Call) -> str:
    """pve-storage src/PVE/API2/Storage/Content.pm:495-533: the volume is freed in the imgdel worker, where a
    protected one fails the task (Storage/Plugin.pm:1124); the API deletes a guest's image like any other."""
    node, storage, volume = _volume(mock, call, _deletable(mock, call))
    bucket = storage.bucket(node)
    ident = f"{volume.vmid}@{storage.storage}" if volume.vmid is not None else storage.storage
    if volume.protected:
        name = volume.volid.split(":", 1)[1]
        return mock.tasks.start(node, "imgdel", ident, user_of(call),
                                error=f"cannot remove protected volume '{name}' on '{storage.storage}'")

    def finish() -> None:
        bucket.pop(volume.volid, None)

    return mock.tasks.start(node, "imgdel", ident, user_of(call), finish=finish,
                            log=[f"Removed volume '{volume.volid}'"])


def _size(text: str) -> int:
    match = re.fullmatch(r"(\d+)([MG]?)", text.strip())
    if not match:  # pve-storage src/PVE/API2/Storage/Content.pm:252 (the schema's pattern answers first)
        raise PVEError.params({"size": f"unable to parse size '{text}'"})
    return int(match.group(1)) * {"": 1024, "M": 1024**2, "G": 1024**3}[match.group(2)]


def allocate(mock: Mock, call: Call) -> str:
    node, storage = _on_node(mock, call)
    params = call.params
    vmid, name = int(params["vmid"]), str(params["filename"])
    size = _size(str(params["size"]))
    fmt = str(params.get("format") or ("qcow2" if name.endswith(".qcow2") else "raw"))
    if storage.type in _FORMATS:  # pve-storage src/PVE/Storage/Plugin.pm:784-796 parse_name_dir
        if not re.fullmatch(r"(base-)?[^/\s]+\.(raw|qcow2|vmdk|subvol)", name):
            raise PVEError(500, f"unable to parse volume filename '{name}'\n")
    elif not name.startswith(f"vm-{vmid}-"):  # LvmThinPlugin.pm:104, ZFSPoolPlugin.pm:271, RBDPlugin.pm:707
        raise PVEError(500, f"illegal name '{name}' - should be 'vm-{vmid}-*'\n")
    volid = f"{storage.storage}:{vmid}/{name}" if storage.type in _FORMATS else f"{storage.storage}:{name}"
    bucket = storage.bucket(node)
    if volid in bucket:
        if storage.type in _FORMATS:  # Plugin.pm:1066
            path = f"{storage.config.get('path', f'/mnt/pve/{storage.storage}')}/images/{vmid}/{name}"
            raise PVEError(500, f"disk image '{path}' already exists\n")
        raise PVEError(500, f"volume '{volid}' already exists\n")
    if storage.full:
        raise vols.no_space(storage, volid, size)
    free = storage.total - storage.used(node)
    if storage.type == "lvm" and free < size:  # LVMPlugin.pm:713 (thin pools and files are not checked)
        raise PVEError(500, f"not enough free space ({free} < {size // 1024})\n")
    bucket[volid] = Volume(volid=volid, storage=storage.storage, node=node, content="images", size=size,
                           format=fmt, vmid=vmid, ctime=mock.clock.now())
    return volid


ROUTES: dict[tuple[str, str], Handler] = {
    ("GET", "/storage"): cfg.index,
    ("POST", "/storage"): cfg.create,
    ("GET", "/storage/{storage}"): cfg.read,
    ("PUT", "/storage/{storage}"): cfg.update,
    ("DELETE", "/storage/{storage}"): cfg.delete,
    ("GET", "/nodes/{node}/storage"): node_storages,
    ("GET", "/nodes/{node}/storage/{storage}"): storage_index,
    ("GET", "/nodes/{node}/storage/{storage}/status"): storage_status,
    ("GET", "/nodes/{node}/storage/{storage}/content"): content_index,
    ("POST", "/nodes/{node}/storage/{storage}/content"): allocate,
    ("GET", "/nodes/{node}/storage/{storage}/content/{volume}"): volume_info,
    ("PUT", "/nodes/{node}/storage/{storage}/content/{volume}"): volume_update,
    ("DELETE", "/nodes/{node}/storage/{storage}/content/{volume}"): volume_delete,
    ("POST", "/nodes/{node}/storage/{storage}/upload"): _upload.upload,
}
