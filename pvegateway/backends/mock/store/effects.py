"""What a task changes in the cluster when it ends, for the tasks clients wait on to find a result:
the ISO or template a download puts on a storage, the backups vzdump writes. The handler's own checks
run before the task starts (PVE's do so before ``fork_worker``); the worker's fail the task.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from ....errors import PVEError
from ...base import Call
from ..handlers import _metrics, _upload, _volumes
from ..runtime import Mock
from ..state import Storage, Volume
from . import interfaces, sdn

GiB = 1024**3
DOWNLOADED = 512 * 1024**2  # the size of what a download puts on a storage (the mock fetches nothing)


@dataclass
class Effect:
    finish: Callable[[], None] | None = None
    log: list[str] = field(default_factory=list)
    error: str | None = None  # the task fails with this


def _adder(storage: Storage, node: str, volume: Volume) -> Callable[[], None]:
    def add() -> None:
        storage.bucket(node)[volume.volid] = volume

    return add


def download(mock: Mock, call: Call) -> Effect:
    """pve-storage src/PVE/API2/Storage/Status.pm:820-911 download_url: an enabled, file-based storage
    configured for the content, a file name with the content's extension."""
    params = call.params
    node, content = str(params["node"]), str(params["content"])
    storage = _volumes.storage(mock, str(params["storage"]), node)
    if not _metrics.storage_enabled(storage):
        raise PVEError(500, f"storage '{storage.storage}' is disabled\n")
    try:
        _upload.directory(storage)
    except PVEError:
        raise PVEError(500, f"can't upload to storage type '{storage.type}', not a file based storage!\n") from None
    if content not in storage.content:
        raise PVEError(500, f"storage '{storage.storage}' is not configured for content-type '{content}'\n")
    filename = _upload.normalize(str(params["filename"]))
    fmt = _upload.file_format(content, filename)
    volid = f"{storage.storage}:{content}/{filename}"
    volume = Volume(volid=volid, storage=storage.storage, node=node, content=content, size=DOWNLOADED,
                    format=fmt, ctime=mock.clock.now())
    return Effect(_adder(storage, node, volume), [f"downloading {params['url']} to {filename}",
                                                  "download of file finished"])


def appliance(mock: Mock, call: Call) -> Effect:
    """pve-manager PVE/API2/Nodes.pm:1809-1841: a container template onto an enabled storage for templates
    (the mock's appliance list is shaped data, so any template name is one)."""
    params = call.params
    node, template = str(params["node"]), str(params["template"])
    storage = _volumes.storage(mock, str(params["storage"]), node)
    if "vztmpl" not in storage.content:
        raise PVEError(500, f"storage '{storage.storage}' does not support templates\n")
    volume = Volume(volid=f"{storage.storage}:vztmpl/{template}", storage=storage.storage, node=node,
                    content="vztmpl", size=DOWNLOADED, format="tzst", ctime=mock.clock.now())
    return Effect(_adder(storage, node, volume), [f"starting template download: {template}"])


_COMPRESSION = {"1": "lzo", "lzo": "lzo", "gzip": "gz", "zstd": "zst"}  # VZDump.pm compressor_info


def _split(text: object) -> list[str]:
    return [v for v in re.split(r"[,;\s]+", str(text or "")) if v]


def vzdump(mock: Mock, call: Call) -> Effect:
    """pve-manager PVE/VZDump.pm: the node's guests of the selection (VZDump.pm:1580-1617), each written
    as ``vzdump-<type>-<vmid>-<time>.<vma|tar>[.<compression>]`` (:949-1000) to a storage for backups
    (:202: else the task fails)."""
    params = call.params
    node = str(params["node"])
    if params.get("dumpdir"):
        return Effect(log=["INFO: Backup job finished successfully"])
    name = str(params.get("storage") or "local")
    storage = mock.cluster.storages.get(name)
    if storage is None:
        return Effect(error=f"storage '{name}' does not exist")
    if "backup" not in storage.content:
        return Effect(error=f"can't use storage '{name}' for backups - wrong content type")
    guests = mock.cluster.guests
    if params.get("pool"):
        pool = mock.cluster.pools.get(str(params["pool"]))
        wanted = set(pool.vmids) if pool is not None else set()
    elif str(params.get("all", "0")) not in ("0", ""):
        wanted = set(guests) - {int(v) for v in _split(params.get("exclude")) if v.isdigit()}
    else:
        wanted = {int(v) for v in _split(params.get("vmid")) if v.isdigit()}
    chosen = sorted(v for v in wanted if v in guests and guests[v].node == node)
    now = mock.clock.now()
    stamp = time.strftime("%Y_%m_%d-%H_%M_%S", time.gmtime(now))
    extension = _COMPRESSION.get(str(params.get("compress") or "0"))
    volumes = []
    log = [f"INFO: starting new backup job: vzdump {' '.join(map(str, chosen))} --storage {name}"]
    for vmid in chosen:
        guest = guests[vmid]
        kind = "qemu" if guest.kind == "qemu" else "lxc"
        fmt = ("vma" if kind == "qemu" else "tar") + (f".{extension}" if extension else "")
        size = sum(v.size for v in _volumes.owned(mock, vmid, node)) // 4 or GiB
        volumes.append(Volume(volid=f"{name}:backup/vzdump-{kind}-{vmid}-{stamp}.{fmt}", storage=name, node=node,
                              content="backup", size=size, format=fmt, vmid=vmid, ctime=now))
        log += [f"INFO: Starting Backup of VM {vmid} ({kind})", f"INFO: Finished Backup of VM {vmid} (00:00:01)"]
    log.append("INFO: Backup job finished successfully")

    def finish() -> None:
        for volume in volumes:
            storage.bucket(node)[volume.volid] = volume

    return Effect(finish, log)


def sdn_reload(mock: Mock, call: Call) -> Effect:
    """pve-network src/PVE/API2/Network/SDN.pm:286-328: the configuration is committed under the lock
    before the task starts; the task reloads every node's network (:96-118), which applies what waits
    in its interfaces.new too (pve-manager PVE/API2/Network.pm:921)."""
    sdn.commit(mock.cluster, call.params)
    nodes = list(mock.cluster.nodes)

    def finish() -> None:
        for node in nodes:
            interfaces.apply(mock.cluster, node)

    return Effect(finish, [f"{node}: reloading network config" for node in nodes])


EFFECTS: Mapping[str, Callable[[Mock, Call], Effect]] = {
    "POST /nodes/{node}/storage/{storage}/download-url": download,
    "POST /nodes/{node}/aplinfo": appliance,
    "POST /nodes/{node}/vzdump": vzdump,
    "PUT /cluster/sdn": sdn_reload,
}
