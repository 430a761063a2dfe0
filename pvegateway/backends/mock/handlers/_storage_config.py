"""Mock handlers: storage configuration (pve-storage ``src/PVE/API2/Storage/Config.pm``)."""

from __future__ import annotations

import re
from typing import Any

from ....errors import PVEError
from ...base import Call
from ..runtime import Mock
from ..state import Storage, config_digest

_SHARED_TYPES = {"nfs", "cifs", "glusterfs", "iscsi", "iscsidirect", "rbd", "cephfs", "pbs", "esxi"}
_META = {"storage", "type", "content", "nodes", "shared", "digest", "delete"}
_FIXED = {"type", "path", "vgname", "thinpool", "pool", "server", "export", "share", "datastore"}


def _split(text: Any) -> list[str]:
    return [x for x in re.split(r"[,;\s]+", str(text or "")) if x]


def lookup(mock: Mock, name: str, what: str = "") -> Storage:
    """pve-storage src/PVE/Storage.pm:259, under the caller's lock prefix (Config.pm:403, :459)."""
    storage = mock.cluster.storages.get(name)
    if storage is None:
        raise PVEError(500, f"{what}storage '{name}' does not exist\n")
    return storage


def section(storage: Storage) -> dict[str, Any]:
    """The storage.cfg section as the API returns it."""
    out: dict[str, Any] = {"storage": storage.storage, "type": storage.type,
                           "content": ",".join(sorted(storage.content))}
    out.update(storage.config)
    if storage.nodes is not None:
        out["nodes"] = ",".join(storage.nodes)
    if storage.shared and storage.type not in _SHARED_TYPES:
        out["shared"] = 1
    return out


def digest(mock: Mock) -> str:
    flat = {name: ",".join(f"{k}={v}" for k, v in sorted(section(s).items()))
            for name, s in mock.cluster.storages.items()}
    return config_digest(flat)


def index(mock: Mock, call: Call) -> list[dict[str, Any]]:
    wanted = call.params.get("type")
    sum_digest = digest(mock)
    out = []
    for storage in mock.cluster.storages.values():
        if wanted and storage.type != wanted:
            continue
        if not mock.permissions.check_any(call.identity, f"/storage/{storage.storage}",
                                          ["Datastore.Audit", "Datastore.AllocateSpace"], noerr=True):
            continue  # pve-storage API2/Storage/Config.pm:162-163
        out.append({**section(storage), "digest": sum_digest})
    return out


def read(mock: Mock, call: Call) -> dict[str, Any]:
    storage = lookup(mock, str(call.params["storage"]))
    return {**section(storage), "digest": digest(mock)}


def create(mock: Mock, call: Call) -> dict[str, Any]:
    params = call.params
    name, kind = str(params["storage"]), str(params["type"])
    if name in mock.cluster.storages:
        raise PVEError(500, f"create storage failed: storage ID '{name}' already defined\n")
    nodes = _split(params.get("nodes")) or None  # only the names' format is checked (the schema's)
    content = _split(params.get("content")) or (["images", "rootdir"] if kind in ("lvmthin", "zfspool", "rbd")
                                                   else ["images"])
    config = {k: str(v) for k, v in params.items() if k not in _META and v is not None}
    shared = kind in _SHARED_TYPES or str(params.get("shared", "0")) == "1"
    mock.cluster.storages[name] = Storage(storage=name, type=kind, content=content, config=config, nodes=nodes,
                                          shared=shared)
    return {"storage": name, "type": kind}


def update(mock: Mock, call: Call) -> dict[str, Any]:
    """pve-storage src/PVE/API2/Storage/Config.pm:348-403: all under 'update storage failed', in its order:
    digest, storage, fixed parameters (check_config), then each deleted option."""
    params = call.params
    what = "update storage failed: "
    wanted = params.get("digest")
    if wanted and wanted != digest(mock):
        raise PVEError(500, f"{what}detected modified configuration - file changed by other user? Try again.\n")
    storage = lookup(mock, str(params["storage"]), what)
    for key in params:
        if key in _FIXED and params[key] is not None and key != "type":
            raise PVEError(500, f"{what}can't change value of fixed parameter '{key}'\n")
    deletes = _split(params.get("delete"))
    for key in deletes:
        if key in _FIXED:
            raise PVEError(500, f"{what}unable to delete required option '{key}'\n")
        if key in params and params[key] is not None:
            raise PVEError(500, f"{what}cannot set and delete property '{key}' at the same time!\n")
    nodes = _split(params.get("nodes")) if params.get("nodes") is not None else None
    if params.get("content") is not None:
        storage.content = _split(params["content"])
    if nodes is not None:
        storage.nodes = nodes or None
    if params.get("shared") is not None and storage.type not in _SHARED_TYPES:
        storage.shared = str(params["shared"]) == "1"
    for key, value in params.items():
        if key not in _META and value is not None:
            storage.config[key] = str(value)
    for key in deletes:
        if key == "nodes":
            storage.nodes = None
        elif key == "shared" and storage.type not in _SHARED_TYPES:
            storage.shared = False
        storage.config.pop(key, None)
    return {"storage": storage.storage, "type": storage.type}


def delete(mock: Mock, call: Call) -> None:
    name = str(call.params["storage"])
    lookup(mock, name, "delete storage failed: ")
    del mock.cluster.storages[name]
    for pool in mock.cluster.pools.values():
        if name in pool.storages:
            pool.storages.remove(name)
