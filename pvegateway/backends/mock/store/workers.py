"""The worker task PVE's handler forks for each operation that answers a UPID and has no realistic
handler: its type and id, as the handler passes them to ``fork_worker`` (file:line in the named
repository). The id is what the UPID's sixth field and the task list show.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from ....apidoc.operation import Operation

Ident = Callable[[Mapping[str, Any]], str]


@dataclass(frozen=True, slots=True)
class Worker:
    type: str
    ident: Ident
    node: str = "node"  # the parameter naming the node the task runs on ('' : the first node)


def _param(name: str, default: str = "") -> Ident:
    return lambda params: str(params.get(name) if params.get(name) is not None else default)


def _text(template: str) -> Ident:
    """``template`` with ``{param}`` replaced by the parameter's value."""
    return lambda params: re.sub(r"\{([^}]+)\}", lambda m: str(params.get(m.group(1), "")), template)


def _none(params: Mapping[str, Any]) -> str:
    return ""


def _basename(name: str) -> Ident:
    return lambda params: str(params.get(name, "")).rsplit("/", 1)[-1]


def _encoded(name: str) -> Ident:
    """pve-common src/PVE/ParseUtils.pm:60-64 encode_text: control, high-bit, ':' and '%' escaped."""
    safe = "".join(chr(c) for c in range(0x20, 0x7F) if chr(c) not in ":%")
    return lambda params: quote(str(params.get(name, "")), safe=safe)


def _vzdump(params: Mapping[str, Any]) -> str:
    """VZDump.pm:175-176: the VMID when exactly one guest is backed up, else no id."""
    vmids = [v for v in re.split(r"[,;\s]+", str(params.get("vmid") or "")) if v]
    return vmids[0] if len(vmids) == 1 and not params.get("all") and not params.get("pool") else ""


def _realm_sync(params: Mapping[str, Any]) -> str:
    return str(params.get("realm", ""))


def _prune(params: Mapping[str, Any]) -> str:
    """pve-storage PruneBackups.pm:187: ``[<vmid>@]<storage>``."""
    vmid = params.get("vmid")
    return f"{vmid}@{params.get('storage')}" if vmid is not None else str(params.get("storage", ""))


_SERVICE = _param("service", "ceph")

WORKERS: Mapping[str, tuple[str, Ident]] = {
    # pve-cluster src/PVE/API2/ClusterConfig.pm:167, :661
    "POST /cluster/config": ("clustercreate", _param("clustername")),
    "POST /cluster/config/join": ("clusterjoin", _none),
    # pve-manager PVE/API2/ACMEAccount.pm:192, :243 with :270-272 ('update' or 'refresh'), :352
    "POST /cluster/acme/account": ("acmeregister", _none),
    "PUT /cluster/acme/account/{name}": ("acmeupdate", _none),
    "DELETE /cluster/acme/account/{name}": ("acmedeactivate", _none),
    # pve-manager PVE/API2/Cluster/Ceph.pm:959
    "PUT /cluster/ceph/flags": ("cephsetflags", _none),
    # pve-manager PVE/API2/Cluster/BulkAction/Guest.pm:393, :539, :688, :817
    "POST /cluster/bulk-action/guest/start": ("bulk-start", _none),
    "POST /cluster/bulk-action/guest/shutdown": ("bulk-shutdown", _none),
    "POST /cluster/bulk-action/guest/suspend": ("bulk-suspend", _none),
    "POST /cluster/bulk-action/guest/migrate": ("bulk-migrate", _none),
    # pve-network src/PVE/API2/Network/SDN.pm:327
    "PUT /cluster/sdn": ("reloadnetworkall", _none),
    # qemu-server src/PVE/API2/Qemu.pm:5865, pve-container src/PVE/API2/LXC.pm:1474
    "POST /nodes/{node}/qemu/{vmid}/remote_migrate": ("qmigrate", _param("vmid")),
    "POST /nodes/{node}/lxc/{vmid}/remote_migrate": ("vzmigrate", _param("vmid")),
    # pve-manager PVE/API2/Ceph/OSD.pm:591, :1129; MDS.pm:215, :266; MGR.pm:157, :200; MON.pm:557, :693;
    # FS.pm:253, :382; Pool.pm:542, :649, :692; Ceph.pm:386, :438, :491
    "POST /nodes/{node}/ceph/osd": ("cephcreateosd", _basename("dev")),
    "DELETE /nodes/{node}/ceph/osd/{osdid}": ("cephdestroyosd", _text("osd.{osdid}")),
    "POST /nodes/{node}/ceph/mds/{name}": ("cephcreatemds", _text("mds.{name}")),
    "DELETE /nodes/{node}/ceph/mds/{name}": ("cephdestroymds", _text("mds.{name}")),
    "POST /nodes/{node}/ceph/mgr/{id}": ("cephcreatemgr", _text("mgr.{id}")),
    "DELETE /nodes/{node}/ceph/mgr/{id}": ("cephdestroymgr", _text("mgr.{id}")),
    "POST /nodes/{node}/ceph/mon/{monid}": ("cephcreatemon", _text("mon.{monid}")),
    "DELETE /nodes/{node}/ceph/mon/{monid}": ("cephdestroymon", _text("mon.{monid}")),
    "POST /nodes/{node}/ceph/fs/{name}": ("cephfscreate", _param("name", "cephfs")),
    "DELETE /nodes/{node}/ceph/fs/{name}": ("cephdestroyfs", _param("name")),
    "POST /nodes/{node}/ceph/pool": ("cephcreatepool", _param("name")),
    "DELETE /nodes/{node}/ceph/pool/{name}": ("cephdestroypool", _param("name")),
    "PUT /nodes/{node}/ceph/pool/{name}": ("cephsetpool", _param("name")),
    "POST /nodes/{node}/ceph/stop": ("srvstop", _SERVICE),
    "POST /nodes/{node}/ceph/start": ("srvstart", _SERVICE),
    "POST /nodes/{node}/ceph/restart": ("srvrestart", _SERVICE),
    # pve-manager PVE/API2/VZDump.pm:178
    "POST /nodes/{node}/vzdump": ("vzdump", _vzdump),
    # pve-manager PVE/API2/Services.pm:378, :418, :455, :493
    "POST /nodes/{node}/services/{service}/start": ("srvstart", _param("service")),
    "POST /nodes/{node}/services/{service}/stop": ("srvstop", _param("service")),
    "POST /nodes/{node}/services/{service}/restart": ("srvrestart", _param("service")),
    "POST /nodes/{node}/services/{service}/reload": ("srvreload", _param("service")),
    # pve-manager PVE/API2/Network.pm:948
    "PUT /nodes/{node}/network": ("srvreload", _text("networking")),
    # pve-storage src/PVE/API2/Storage/PruneBackups.pm:192, Content.pm:625, Status.pm:911, :1003
    "DELETE /nodes/{node}/storage/{storage}/prunebackups": ("prunebackups", _prune),
    "POST /nodes/{node}/storage/{storage}/content/{volume}": ("imgcopy", _none),
    "POST /nodes/{node}/storage/{storage}/download-url": ("download", _encoded("filename")),
    "POST /nodes/{node}/storage/{storage}/oci-registry-pull": ("ociregistrypull", _encoded("filename")),
    # pve-storage src/PVE/API2/Disks/LVM.pm:200, :286; LVMThin.pm:181, :279; Directory.pm:330, :428;
    # ZFS.pm:528, :651; Disks.pm:274, :318
    "POST /nodes/{node}/disks/lvm": ("lvmcreate", _param("name")),
    "DELETE /nodes/{node}/disks/lvm/{name}": ("lvmremove", _param("name")),
    "POST /nodes/{node}/disks/lvmthin": ("lvmthincreate", _param("name")),
    "DELETE /nodes/{node}/disks/lvmthin/{name}": ("lvmthinremove", _text("{volume-group}-{name}")),
    "POST /nodes/{node}/disks/directory": ("dircreate", _param("name")),
    "DELETE /nodes/{node}/disks/directory/{name}": ("dirremove", _param("name")),
    "POST /nodes/{node}/disks/zfs": ("zfscreate", _param("name")),
    "DELETE /nodes/{node}/disks/zfs/{name}": ("zfsremove", _param("name")),
    "POST /nodes/{node}/disks/initgpt": ("diskinit", _basename("disk")),
    "PUT /nodes/{node}/disks/wipedisk": ("wipedisk", _basename("disk")),
    # pve-manager PVE/API2/APT.pm:417
    "POST /nodes/{node}/apt/update": ("aptupdate", _none),
    # pve-manager PVE/API2/ACME.pm:226, :313, :385
    "POST /nodes/{node}/certificates/acme/certificate": ("acmenewcert", _none),
    "PUT /nodes/{node}/certificates/acme/certificate": ("acmerenew", _none),
    "DELETE /nodes/{node}/certificates/acme/certificate": ("acmerevoke", _none),
    # pve-manager PVE/API2/Nodes.pm:1841, :2293, :2454, :2586, :2791
    "POST /nodes/{node}/aplinfo": ("download", _param("template")),
    "POST /nodes/{node}/startall": ("startall", _none),
    "POST /nodes/{node}/stopall": ("stopall", _none),
    "POST /nodes/{node}/suspendall": ("suspendall", _none),
    "POST /nodes/{node}/migrateall": ("migrateall", _none),
    # pve-access-control src/PVE/API2/Domains.pm:601-602 (a dry run is 'auth-realm-sync-test')
    "POST /access/domains/{realm}/sync": ("auth-realm-sync", _realm_sync),
}

# answer a plain string that is no UPID: the monitor's output (qemu-server Qemu.pm:5891), a lock token
# (pve-network SDN.pm:141-152), whatever scheduling returned (pve-manager Replication.pm:415-434)
NOT_TASKS = frozenset({"POST /nodes/{node}/qemu/{vmid}/monitor", "POST /cluster/sdn/lock",
                       "POST /nodes/{node}/replication/{id}/schedule_now"})


def worker_of(op: Operation) -> Worker:
    """The task ``op`` starts; one the table does not know is named after its last path segment."""
    node = "node" if op.path.startswith("/nodes/") else ""
    known = WORKERS.get(op.key)
    if known is not None:
        return Worker(known[0], known[1], node)
    last = [s for s in op.path.split("/") if s and not s.startswith("{")][-1]
    return Worker(last.replace("-", ""), _none, node)


def worker_type(worker: Worker, params: Mapping[str, Any]) -> str:
    """Types that depend on a parameter: a dry-run realm sync (Domains.pm:601), the ACME account
    update's 'update' or 'refresh' (ACMEAccount.pm:270-272)."""
    if worker.type == "auth-realm-sync" and str(params.get("dry-run", "0")) in ("1", "true", "on", "yes"):
        return "auth-realm-sync-test"
    if worker.type == "acmeupdate" and params.get("contact") is None:
        return "acmerefresh"
    return worker.type
