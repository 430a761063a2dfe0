"""PVE's in-code permission checks for the operations the mock answers with its generic fallback.

Their schema says ``permissions: {user: all}``: PVE lets every caller in and checks inside the handler,
either refusing (``check``) or leaving out what the caller may not see (``shown``). Each entry names the
PVE handler it follows. The objects the checks look at are the cluster's: replication jobs and SDN vnets
in its configuration store, guests and volumes where the realistic handlers keep them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ...errors import PVEError
from ..base import Call, Identity
from .handlers._params import flag, id_list
from .handlers._volume_access import check_volume_access, volume_kind
from .perms import ROOT, Permissions, fail
from .runtime import Mock


@dataclass(frozen=True)
class Context:
    mock: Mock
    call: Call

    def item(self, path: str) -> Mapping[str, Any] | None:
        """An item of the store's collections, by path (store/data.py)."""
        return self.mock.cluster.store.item(path)

    @property
    def perms(self) -> Permissions:
        return self.mock.permissions

    @property
    def who(self) -> Identity | None:
        return self.call.identity

    @property
    def params(self) -> Mapping[str, Any]:
        return self.call.params


Check = Callable[[Context], None]
Shown = Callable[[Context, Any], Any]


@dataclass(frozen=True)
class Guard:
    check: Check | None = None
    shown: Shown | None = None


def _keep(items: Any, visible: Callable[[Mapping[str, Any]], bool]) -> Any:
    return [i for i in items if isinstance(i, Mapping) and visible(i)] if isinstance(items, list) else items


def _any_on(path: str, field: str, privs: Sequence[str]) -> Shown:
    """Keep the entries the caller holds one of ``privs`` on ``path`` (``{}`` is the entry's ``field``)."""
    def shown(ctx: Context, data: Any) -> Any:
        return _keep(data, lambda e: e.get(field) is not None
                     and ctx.perms.check_any(ctx.who, path.format(e[field]), privs, noerr=True))
    return shown


_SDN_SEE = ("SDN.Audit", "SDN.Allocate")
_MAPPING_SEE = ("Mapping.Modify", "Mapping.Use", "Mapping.Audit")


# --- replication (pve-manager PVE/API2/ReplicationConfig.pm, PVE/API2/Replication.pm) ------------------

def _job_guest(jobid: Any) -> int:
    """pve-guest-common ReplicationConfig.pm:27 parse_replication_job_id: ``<guest>-<n>``."""
    return int(str(jobid).split("-", 1)[0])


def _job(ctx: Context) -> Mapping[str, Any]:
    jobid = str(ctx.params["id"])
    job = ctx.item(f"/cluster/replication/{jobid}")
    if job is None:
        raise PVEError(500, f"no such replication job '{jobid}'\n")
    return job


def _replicate(ctx: Context) -> None:  # ReplicationConfig.pm:145, :218, :294; Replication.pm:426
    ctx.perms.check(ctx.who, f"/vms/{_job_guest(ctx.params['id'])}", ["VM.Replicate"])


def _read_job(ctx: Context) -> None:  # ReplicationConfig.pm:107-111, Replication.pm:309-314
    _job(ctx)
    ctx.perms.check(ctx.who, f"/vms/{_job_guest(ctx.params['id'])}", ["VM.Audit"])


def _job_log(ctx: Context) -> None:  # Replication.pm:377-386
    _job(ctx)
    guest, node = _job_guest(ctx.params["id"]), ctx.params["node"]
    if not (ctx.perms.check(ctx.who, f"/vms/{guest}", ["VM.Audit"], noerr=True)
            or ctx.perms.check(ctx.who, f"/nodes/{node}", ["Sys.Audit"], noerr=True)):
        raise fail()


def _jobs_shown(ctx: Context, data: Any) -> Any:  # ReplicationConfig.pm:66, Replication.pm:239
    def visible(job: Mapping[str, Any]) -> bool:
        guest = job.get("guest") or (_job_guest(job["id"]) if job.get("id") else None)
        return guest is not None and ctx.perms.check(ctx.who, f"/vms/{guest}", ["VM.Audit"], noerr=True)
    return _keep(data, visible)


# --- guests in bulk (pve-manager PVE/API2/Cluster/BulkAction/Guest.pm, PVE/API2/Nodes.pm) ---------------

def _bulk(*privs: str) -> Check:
    def check(ctx: Context) -> None:  # Guest.pm:218-226 check_guest_permissions
        vms = id_list(ctx.params.get("vms"))
        if vms:
            for vmid in vms:
                ctx.perms.check(ctx.who, f"/vms/{vmid}", privs)
        elif not ctx.perms.check(ctx.who, "/", privs, noerr=True):
            raise fail(f"/, {', '.join(privs)}")
    return check


def _bulk_suspend(ctx: Context) -> None:  # Guest.pm:617-627
    _bulk("VM.PowerMgmt")(ctx)
    if flag(ctx.params.get("to-disk")):
        _bulk("VM.Config.Disk")(ctx)
        if ctx.params.get("statestorage"):
            ctx.perms.check(ctx.who, f"/storage/{ctx.params['statestorage']}", ["Datastore.AllocateSpace"])


def _node_all(privs: Sequence[str], detail: str, each: str) -> Check:
    def check(ctx: Context) -> None:  # Nodes.pm:2177-2184, :2375, :2513, :2713
        if ctx.perms.check(ctx.who, "/", privs, noerr=True):
            return
        vms = id_list(ctx.params.get("vms"))
        if not vms:
            raise fail(detail)
        for vmid in vms:
            ctx.perms.check(ctx.who, f"/vms/{vmid}", [each])
    return check


# --- SDN (pve-network PVE/API2/Network/SDN/*, pve-firewall PVE/API2/Firewall/{Vnet,Rules,Helpers}.pm) ---

def _vnet_zone(ctx: Context, missing: str) -> str:
    vnet = str(ctx.params["vnet"])
    found = ctx.item(f"/cluster/sdn/vnets/{vnet}")
    if found is None:
        raise PVEError(500, missing.format(vnet=vnet))
    return str(found.get("zone"))


def _vnet(*privs: str, firewall: bool = False) -> Check:
    """Vnets.pm:66-75 / Subnets.pm:47-56 $check_vnet_access, Firewall/Helpers.pm:51-63 check_vnet_access."""
    missing = ("invalid vnet specified at /usr/share/perl5/PVE/API2/Firewall/Helpers.pm line 55.\n" if firewall
               else "sdn vnet '{vnet}' does not exist\n")

    def check(ctx: Context) -> None:
        zone = _vnet_zone(ctx, missing)
        ctx.perms.check_any(ctx.who, f"/sdn/zones/{zone}/{ctx.params['vnet']}", privs)
    return check


def _vnets_shown(ctx: Context, data: Any) -> Any:  # Vnets.pm:190-196
    return _keep(data, lambda v: v.get("vnet") is not None and ctx.perms.check_any(
        ctx.who, f"/sdn/zones/{v.get('zone')}/{v['vnet']}", _SDN_SEE, noerr=True))


def _fabric_nodes_shown(ctx: Context, data: Any) -> Any:  # Fabrics/Node.pm:100-101
    return _keep(data, lambda n: n.get("fabric_id") is not None and n.get("node_id") is not None
                 and ctx.perms.check_any(ctx.who, f"/sdn/fabrics/{n['fabric_id']}", _SDN_SEE, noerr=True)
                 and ctx.perms.check_any(ctx.who, f"/nodes/{n['node_id']}", ["Sys.Audit", "Sys.Modify"], True))


def _fabrics_all_shown(ctx: Context, data: Any) -> Any:  # Fabrics.pm:147-165
    if not isinstance(data, Mapping):
        return data
    return {**data, "fabrics": _any_on("/sdn/fabrics/{}", "id", _SDN_SEE)(ctx, data.get("fabrics", [])),
            "nodes": _fabric_nodes_shown(ctx, data.get("nodes", []))}


def _pve_ipam_only(ctx: Context) -> None:  # Ipams.pm:319
    if ctx.params["ipam"] != "pve":
        raise PVEError(500, "Currently only PVE IPAM is supported! at "
                            "/usr/share/perl5/PVE/API2/Network/SDN/Ipams.pm line 319.\n")


def _ipam_entries_shown(ctx: Context, data: Any) -> Any:  # Ipams.pm:356-358
    return _keep(data, lambda e: e.get("zone") is not None and e.get("vnet") is not None and ctx.perms.check_any(
        ctx.who, f"/sdn/zones/{e['zone']}/{e['vnet']}", _SDN_SEE, noerr=True))


def _sdn_named(kind: str) -> Shown:
    """Prefix lists and route maps (pve-network, later than the sources at hand): the schema's description
    says "Only returns ... where you have 'SDN.Audit' or 'SDN.Allocate' permissions"."""
    return _any_on(f"/sdn/{kind}/{{}}", "id", _SDN_SEE)


# --- backups and storage (pve-manager PVE/API2/VZDump.pm, pve-storage PVE/API2/Storage/*) --------------

def _vzdump(ctx: Context) -> None:  # VZDump.pm:24-35, :92-127, API2/Backup.pm:39-56
    params, who, perms = ctx.params, ctx.who, ctx.perms
    if who is not None and who.authid != ROOT:
        for key in ("tmpdir", "dumpdir", "script", "job-id"):
            if key in params:
                raise PVEError.params({key: "Only root may set this option."})
        if any(params.get(k) is not None for k in ("bwlimit", "ionice", "performance")):
            perms.check(who, "/", ["Sys.Modify"])
        storage = None if params.get("dumpdir") else str(params.get("storage") or "local")
        if params.get("prune-backups") is not None and storage:
            perms.check(who, f"/storage/{storage}", ["Datastore.Allocate"])
    if flag(params.get("stop")):
        perms.check(who, f"/nodes/{params['node']}", ["Sys.Modify"])
    if not (params.get("vmid") or flag(params.get("all")) or params.get("pool")):
        return  # no guest to back up: PVE answers 'OK'
    if not params.get("dumpdir"):
        perms.check(who, f"/storage/{params.get('storage') or 'local'}", ["Datastore.AllocateSpace"])


def _vzdump_defaults(ctx: Context) -> None:  # VZDump.pm:217-228
    storage = ctx.params.get("storage") or "local"
    ctx.perms.check_any(ctx.who, f"/storage/{storage}", ["Datastore.Audit", "Datastore.AllocateSpace"])


def _vzdump_defaults_shown(ctx: Context, data: Any) -> Any:  # VZDump.pm:249-263
    if not isinstance(data, Mapping):
        return data
    shown = dict(data)
    if not ctx.perms.check(ctx.who, f"/nodes/{ctx.params['node']}", ["Sys.Audit"], noerr=True):
        for key in ("mailto", "tmpdir", "dumpdir", "script", "ionice"):
            shown.pop(key, None)
    pool = shown.get("pool")
    if pool is not None and not ctx.perms.check(ctx.who, f"/pool/{pool}", ["Pool.Audit"], noerr=True):
        del shown["pool"]
    return shown


def _extractconfig(ctx: Context) -> None:  # VZDump.pm:301-309
    volume = str(ctx.params["volume"])
    check_volume_access(ctx.mock, ctx.who, volume, content="backup", node=str(ctx.params["node"]))
    kind = volume_kind(ctx.mock, volume)
    if kind is not None and kind[1] is not None:
        ctx.perms.check(ctx.who, f"/vms/{kind[1]}", ["VM.Backup"])


def _prune(ctx: Context) -> None:  # PruneBackups.pm:180-185
    storage, vmid = ctx.params["storage"], ctx.params.get("vmid")
    if vmid is not None:
        ctx.perms.check(ctx.who, f"/storage/{storage}", ["Datastore.AllocateSpace"])
        ctx.perms.check(ctx.who, f"/vms/{vmid}", ["VM.Backup"])
    else:
        ctx.perms.check(ctx.who, f"/storage/{storage}", ["Datastore.Allocate"])


def _storage_volume(content: str | None) -> Check:
    """FileRestore.pm:118/:206 (a backup), Status.pm:1113 (import-metadata): check_volume_access."""
    def check(ctx: Context) -> None:
        storage, volume = str(ctx.params["storage"]), str(ctx.params["volume"])
        volid = volume if content is not None and ":" in volume else f"{storage}:{volume}"
        check_volume_access(ctx.mock, ctx.who, volid, content=content, node=str(ctx.params["node"]))
    return check


def _subscription_shown(ctx: Context, data: Any) -> Any:  # Subscription.pm:214-237
    if not isinstance(data, Mapping) or ctx.perms.check(ctx.who, f"/nodes/{ctx.params['node']}",
                                                         ["Sys.Audit"], noerr=True):
        return data
    return {k: data[k] for k in ("status", "message", "url") if k in data}


# --- the rest ---------------------------------------------------------------------------------------------

def _own(field: str, admin: Callable[[Context], bool]) -> Shown:
    def shown(ctx: Context, data: Any) -> Any:
        if admin(ctx):
            return data
        me = ctx.who.authid if ctx.who is not None else ROOT
        return _keep(data, lambda e: e.get(field) == me)
    return shown


def _syslog_admin(ctx: Context) -> bool:  # Cluster.pm:225
    return ctx.perms.check(ctx.who, "/", ["Sys.Syslog"], noerr=True)


def _tfa_shown(ctx: Context, data: Any) -> Any:  # pve-access-control API2/TFA.pm:296-309
    privs = ["User.Modify", "Sys.Audit"]
    if ctx.perms.check_any(ctx.who, "/access/groups", privs, noerr=True):
        return data
    groups = ctx.perms.groups_with(ctx.who, privs)
    members = {u.userid for u in ctx.mock.cluster.users.values() if set(u.groups) & groups}
    me = ctx.who.userid if ctx.who is not None else ROOT
    return _keep(data, lambda e: e.get("userid") == me or e.get("userid") in members)


def _tfa_reauth(ctx: Context) -> None:  # TFA.pm:228, :367, :464 reauth_user_for_user_modification
    ctx.perms.reauth(ctx.who, str(ctx.params["userid"]), ctx.params.get("password"))


def _custom_models_shown(ctx: Context, data: Any) -> Any:  # CustomCPUModels.pm:58-60
    return _keep(data, lambda m: m.get("cputype") is not None and ctx.perms.check_any(
        ctx.who, f"/mapping/cpu/{str(m['cputype']).removeprefix('custom-')}", _MAPPING_SEE, noerr=True))


def _cpu_models_shown(ctx: Context, data: Any) -> Any:  # qemu-server API2/Qemu/CPU.pm:74-89
    if ctx.perms.check(ctx.who, "/nodes", ["Sys.Audit"], noerr=True):
        return data
    return _keep(data, lambda m: not m.get("custom") or ctx.perms.check_any(
        ctx.who, f"/mapping/cpu/{str(m.get('name', '')).removeprefix('custom-')}", _MAPPING_SEE, noerr=True))


GUARDS: Mapping[tuple[str, str], Guard] = {
    ("GET", "/cluster/replication"): Guard(shown=_jobs_shown),
    ("POST", "/cluster/replication"): Guard(_replicate),
    ("GET", "/cluster/replication/{id}"): Guard(_read_job),
    ("PUT", "/cluster/replication/{id}"): Guard(_replicate),
    ("DELETE", "/cluster/replication/{id}"): Guard(_replicate),
    ("GET", "/nodes/{node}/replication"): Guard(shown=_jobs_shown),
    ("GET", "/nodes/{node}/replication/{id}/status"): Guard(_read_job),
    ("GET", "/nodes/{node}/replication/{id}/log"): Guard(_job_log),
    ("POST", "/nodes/{node}/replication/{id}/schedule_now"): Guard(_replicate),
    ("POST", "/cluster/bulk-action/guest/start"): Guard(_bulk("VM.PowerMgmt")),
    ("POST", "/cluster/bulk-action/guest/shutdown"): Guard(_bulk("VM.PowerMgmt")),
    ("POST", "/cluster/bulk-action/guest/suspend"): Guard(_bulk_suspend),
    ("POST", "/cluster/bulk-action/guest/migrate"): Guard(_bulk("VM.Migrate")),
    ("POST", "/nodes/{node}/startall"): Guard(_node_all(["VM.PowerMgmt"], "/, VM.PowerMgmt", "VM.PowerMgmt")),
    ("POST", "/nodes/{node}/stopall"): Guard(_node_all(["VM.PowerMgmt"], "/, VM.PowerMgmt", "VM.PowerMgmt")),
    ("POST", "/nodes/{node}/suspendall"): Guard(_node_all(["VM.PowerMgmt", "VM.Config.Disk"],
                                                          "/, VM.PowerMgmt && VM.Config.Disk", "VM.PowerMgmt")),
    ("POST", "/nodes/{node}/migrateall"): Guard(_node_all(["VM.Migrate"], "/, VM.Migrate", "VM.Migrate")),
    ("GET", "/cluster/mapping/dir"): Guard(shown=_any_on("/mapping/dir/{}", "id", _MAPPING_SEE)),
    ("GET", "/cluster/mapping/pci"): Guard(shown=_any_on("/mapping/pci/{}", "id", _MAPPING_SEE)),
    ("GET", "/cluster/mapping/usb"): Guard(shown=_any_on("/mapping/usb/{}", "id", _MAPPING_SEE)),
    ("GET", "/cluster/qemu/custom-cpu-models"): Guard(shown=_custom_models_shown),
    ("GET", "/nodes/{node}/capabilities/qemu/cpu"): Guard(shown=_cpu_models_shown),
    ("GET", "/cluster/sdn/vnets"): Guard(shown=_vnets_shown),
    ("GET", "/cluster/sdn/vnets/{vnet}"): Guard(_vnet(*_SDN_SEE)),
    ("PUT", "/cluster/sdn/vnets/{vnet}"): Guard(_vnet("SDN.Allocate")),
    ("DELETE", "/cluster/sdn/vnets/{vnet}"): Guard(_vnet("SDN.Allocate")),
    ("GET", "/cluster/sdn/vnets/{vnet}/subnets"): Guard(_vnet(*_SDN_SEE)),
    ("POST", "/cluster/sdn/vnets/{vnet}/subnets"): Guard(_vnet("SDN.Allocate")),
    ("GET", "/cluster/sdn/vnets/{vnet}/subnets/{subnet}"): Guard(_vnet(*_SDN_SEE)),
    ("PUT", "/cluster/sdn/vnets/{vnet}/subnets/{subnet}"): Guard(_vnet("SDN.Allocate")),
    ("DELETE", "/cluster/sdn/vnets/{vnet}/subnets/{subnet}"): Guard(_vnet("SDN.Allocate")),
    ("GET", "/cluster/sdn/vnets/{vnet}/firewall/options"): Guard(_vnet("SDN.Allocate", "SDN.Audit", firewall=True)),
    ("PUT", "/cluster/sdn/vnets/{vnet}/firewall/options"): Guard(_vnet("SDN.Allocate", firewall=True)),
    ("GET", "/cluster/sdn/vnets/{vnet}/firewall/rules"): Guard(_vnet(*_SDN_SEE, firewall=True)),
    ("POST", "/cluster/sdn/vnets/{vnet}/firewall/rules"): Guard(_vnet("SDN.Allocate", firewall=True)),
    ("GET", "/cluster/sdn/vnets/{vnet}/firewall/rules/{pos}"): Guard(_vnet(*_SDN_SEE, firewall=True)),
    ("PUT", "/cluster/sdn/vnets/{vnet}/firewall/rules/{pos}"): Guard(_vnet("SDN.Allocate", firewall=True)),
    ("DELETE", "/cluster/sdn/vnets/{vnet}/firewall/rules/{pos}"): Guard(_vnet("SDN.Allocate", firewall=True)),
    ("GET", "/nodes/{node}/sdn/vnets/{vnet}/mac-vrf"): Guard(_vnet("SDN.Audit")),  # SDN/Nodes/Vnet.pm:115
    ("GET", "/cluster/sdn/zones"): Guard(shown=_any_on("/sdn/zones/{}", "zone", _SDN_SEE)),
    ("GET", "/cluster/sdn/controllers"): Guard(shown=_any_on("/sdn/controllers/{}", "controller", _SDN_SEE)),
    ("GET", "/cluster/sdn/ipams"): Guard(shown=_any_on("/sdn/ipams/{}", "ipam", _SDN_SEE)),
    ("GET", "/cluster/sdn/ipams/{ipam}/status"): Guard(_pve_ipam_only, _ipam_entries_shown),
    ("GET", "/cluster/sdn/dns"): Guard(shown=_any_on("/sdn/dns/{}", "dns", _SDN_SEE)),
    ("GET", "/cluster/sdn/fabrics/fabric"): Guard(shown=_any_on("/sdn/fabrics/{}", "id", _SDN_SEE)),
    ("GET", "/cluster/sdn/fabrics/node"): Guard(shown=_fabric_nodes_shown),
    ("GET", "/cluster/sdn/fabrics/all"): Guard(shown=_fabrics_all_shown),
    ("GET", "/cluster/sdn/prefix-lists"): Guard(shown=_sdn_named("prefix-lists")),
    ("GET", "/cluster/sdn/route-maps"): Guard(shown=_sdn_named("route-maps")),
    ("GET", "/cluster/sdn/route-maps/entries"): Guard(shown=_sdn_named("route-maps")),
    ("POST", "/nodes/{node}/vzdump"): Guard(_vzdump),
    ("GET", "/nodes/{node}/vzdump/defaults"): Guard(_vzdump_defaults, _vzdump_defaults_shown),
    ("GET", "/nodes/{node}/vzdump/extractconfig"): Guard(_extractconfig),
    ("DELETE", "/nodes/{node}/storage/{storage}/prunebackups"): Guard(_prune),
    ("GET", "/nodes/{node}/storage/{storage}/file-restore/list"): Guard(_storage_volume("backup")),
    ("GET", "/nodes/{node}/storage/{storage}/file-restore/download"): Guard(_storage_volume("backup")),
    ("GET", "/nodes/{node}/storage/{storage}/import-metadata"): Guard(_storage_volume(None)),
    ("GET", "/nodes/{node}/subscription"): Guard(shown=_subscription_shown),
    ("GET", "/cluster/log"): Guard(shown=_own("user", _syslog_admin)),
    ("GET", "/access/tfa"): Guard(shown=_tfa_shown),
    ("POST", "/access/tfa/{userid}"): Guard(_tfa_reauth),
    ("PUT", "/access/tfa/{userid}/{id}"): Guard(_tfa_reauth),
    ("DELETE", "/access/tfa/{userid}/{id}"): Guard(_tfa_reauth),
}
