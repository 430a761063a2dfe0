"""What a task changes in the cluster when it ends, for the tasks clients wait on to find a result:
the ISO or template a download puts on a storage, the backups vzdump writes (:mod:`.vzdump`), a realm
sync's log. The handler's own checks run before the task starts (PVE's do so before ``fork_worker``);
the worker's fail the task.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ....errors import PVEError
from ...base import Call
from ..handlers import _metrics, _prune, _remote, _upload, _volumes
from ..handlers._params import flag
from ..runtime import Mock
from ..state import Storage, Volume
from . import defaults, interfaces, sdn, vzdump
from .effect import Effect


def _adder(storage: Storage, node: str, volume: Volume) -> Callable[[], None]:
    def add() -> None:
        storage.bucket(node)[volume.volid] = volume

    return add


def download(mock: Mock, call: Call) -> Effect:
    """pve-storage src/PVE/API2/Storage/Status.pm:820-911 download_url: an enabled, file-based storage
    configured for the content (the schema's enum: ISO, template, import), a file name with its extension;
    the worker (pve-common Tools.pm download_file_from_url) decompresses ISOs only and does not
    overwrite a file (one with the checksum asked for is kept). What it fetches is :mod:`._remote`'s."""
    params = call.params
    node, content, url = str(params["node"]), str(params["content"]), str(params["url"])
    storage = _volumes.storage(mock, str(params["storage"]), node)
    if not _metrics.storage_enabled(storage):
        raise PVEError(500, f"storage '{storage.storage}' is disabled\n")
    try:
        base = _upload.directory(storage)
    except PVEError:
        raise PVEError(500, f"can't upload to storage type '{storage.type}', not a file based storage!\n") from None
    if content not in storage.content:
        raise PVEError(500, f"storage '{storage.storage}' is not configured for content-type '{content}'\n")
    filename = _upload.normalize(str(params["filename"]))
    fmt = _upload.file_format(content, filename)
    dest = f"{base}/{_upload.SUBDIR[content]}/{filename}"
    log = [f"downloading {url} to {dest}"]
    if params.get("compression") and content != "iso":
        return Effect(log=[], error=f"decompression not supported for {content}")
    volid = f"{storage.storage}:{content}/{filename}"
    if volid in storage.bucket(node):
        if not params.get("checksum"):
            return Effect(log=log, error=f"refusing to override existing file '{dest}'")
        return Effect(log=[*log, "calculating checksum of existing file...OK, got correct file already, "
                                 "no need to download"])
    if params.get("checksum"):
        log.append("calculating checksum...OK, checksum verified")
    volume = Volume(volid=volid, storage=storage.storage, node=node, content=content, size=_remote.SIZE,
                    format=fmt, ctime=mock.clock.now())
    return Effect(_adder(storage, node, volume), [*log, f"download of '{url}' to '{dest}' finished"])


def appliance(mock: Mock, call: Call) -> Effect:
    """pve-manager PVE/API2/Nodes.pm:1809-1841: a container template onto an enabled storage for templates
    (the mock's appliance list is shaped data, so any template name is one)."""
    params = call.params
    node, template = str(params["node"]), str(params["template"])
    storage = _volumes.storage(mock, str(params["storage"]), node)
    if "vztmpl" not in storage.content:
        raise PVEError(500, f"storage '{storage.storage}' does not support templates\n")
    volume = Volume(volid=f"{storage.storage}:vztmpl/{template}", storage=storage.storage, node=node,
                    content="vztmpl", size=_remote.SIZE, format="tzst", ctime=mock.clock.now())
    return Effect(_adder(storage, node, volume), [f"starting template download: {template}"])


def prune(mock: Mock, call: Call) -> Effect:
    """pve-storage src/PVE/API2/Storage/PruneBackups.pm:160-194: the worker prunes by the given policy or
    the storage's (Storage.pm:1980-1996, whose errors fail the task)."""
    params, node = call.params, str(call.params["node"])
    storage = _volumes.storage(mock, str(params["storage"]), node)
    try:
        keep = _prune.policy(storage, params.get("prune-backups"))
    except PVEError as err:
        return Effect(error=err.message.rstrip("\n"))
    gone = _prune.removed(_prune.prune_list(storage, node, keep, params.get("vmid"), params.get("type")))

    def finish() -> None:
        for volid in gone:
            storage.bucket(node).pop(volid, None)

    return Effect(finish, [f"removing backup '{v}'" for v in gone])


def _sync_options(call: Call, realm: Mapping[str, Any]) -> dict[str, Any]:
    """pve-access-control src/PVE/API2/Domains.pm:477-501 parse_sync_opts: each option from the call, the
    realm's sync-defaults-options, or the schema's default; the old full/purge as remove-vanished (:22-38)."""
    saved = dict(part.split("=", 1) for part in str(realm.get("sync-defaults-options") or "").split(",")
                 if "=" in part)
    names = [k for k in (call.operation.parameters.get("properties") or {}) if k not in ("realm", "dry-run")]
    schema = call.operation.parameters.get("properties") or {}
    options = {k: call.params.get(k) if call.params.get(k) is not None else saved.get(k, schema[k].get("default"))
               for k in names}
    if options.get("remove-vanished") is None and (flag(options.get("full")) or flag(options.get("purge"))):
        options["remove-vanished"] = ";".join((["entry", "properties"] if flag(options.get("full")) else [])
                                              + (["acl"] if flag(options.get("purge")) else []))
    if options.get("scope") is None:
        raise PVEError.params({"scope": "Not passed as parameter and not defined in realm default sync options."})
    return options


def realm_sync(mock: Mock, call: Call) -> Effect:
    """Domains.pm:548-603: LDAP and AD realms only, a scope; the worker's log. The mock's directory holds
    the realm's users and groups the cluster already has, so a sync updates them and removes nothing."""
    name = str(call.params["realm"])
    realm = defaults.section(mock.cluster, defaults.REALMS, {}).get(name) or {}
    kind = realm.get("type")
    if kind not in ("ldap", "ad"):
        raise PVEError(500, f"Cannot sync realm type '{kind}'! Only LDAP/AD realms can be synced.\n")
    options = _sync_options(call, realm)
    dry = flag(call.params.get("dry-run"))
    scope = str(options["scope"])
    what = "users and groups" if scope == "both" else scope
    vanished = options.get("remove-vanished")
    log = [("(dry test run) " if dry else "") + f"starting sync for realm {name}",
           f"got data from server, updating {what}"]
    if scope in ("users", "both"):
        log.append(f"syncing users (remove-vanished opts: {vanished})" if vanished is not None else "syncing users")
        log += [f"updating user '{u}'" for u in sorted(mock.cluster.users) if u.endswith(f"@{name}")]
    if scope in ("groups", "both"):
        log.append(f"syncing groups (remove-vanished opts: {vanished})" if vanished is not None else "syncing groups")
        log += [f"updating group '{g}'" for g in sorted(mock.cluster.groups) if g.endswith(f"-{name}")]
    log += ["", "NOTE: Dry test run, changes were NOT written to the configuration."] if dry else [
        f"successfully updated {what} configuration"]
    return Effect(log=log)


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
    "POST /nodes/{node}/vzdump": vzdump.vzdump,
    "PUT /cluster/sdn": sdn_reload,
    "POST /access/domains/{realm}/sync": realm_sync,
    "DELETE /nodes/{node}/storage/{storage}/prunebackups": prune,
}
