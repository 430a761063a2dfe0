"""What a task changes in the cluster when it ends, for the tasks clients wait on to find a result:
the ISO or template a download puts on a storage, the backups vzdump writes, a realm sync's log (and
'OK' without a task where PVE answers so). The handler's own checks
run before the task starts (PVE's do so before ``fork_worker``); the worker's fail the task.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ....errors import PVEError
from ...base import Call
from ..handlers import _backups, _metrics, _remote, _upload, _volumes
from ..handlers._guest_common import ha_state
from ..handlers._params import flag
from ..runtime import Mock
from ..state import Guest, Storage, Volume
from . import defaults

GiB = 1024**3


@dataclass
class Effect:
    finish: Callable[[], None] | None = None
    log: list[str] = field(default_factory=list)
    error: str | None = None  # the task fails with this
    answer: str | None = None  # PVE answers this instead of starting a task
    ident: str | None = None  # the task's id, when the worker table's cannot know it from the parameters


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


def _vzdump_checks(params: Mapping[str, Any]) -> None:
    """pve-manager PVE/API2/VZDump.pm:83-91 (what only the command line may ask), then the parameters'
    own checks (PVE/VZDump.pm:1527-1555), before any task."""
    if flag(params.get("stdout")):
        raise PVEError.params({"stdout": "option is only allowed on the command line interface."})
    _backups.verify_parameters(params, check_missing=True)


def _backup_storage(mock: Mock, params: Mapping[str, Any]) -> tuple[Storage | None, str | None]:
    """VZDump.pm:654-722 new: the storage (the defaults' 'local' when none is named), or the job's error."""
    if params.get("dumpdir"):
        if params.get("storage"):
            return None, "cannot use options 'storage' and 'dumpdir' at the same time"
        return None, None
    name = str(params.get("storage") or "local")
    storage = mock.cluster.storages.get(name)
    if storage is None:  # :690-695, both errors joined (the task log's last line has no line feeds)
        missing = f"storage '{name}' does not exist"
        return None, (f"could not activate storage '{name}': {missing} "
                      f"could not get storage information for '{name}': {missing}")
    if "backup" not in storage.content:  # :202
        return None, (f"could not get storage information for '{name}': "
                      f"can't use storage '{name}' for backups - wrong content type")
    return storage, None


def vzdump(mock: Mock, call: Call) -> Effect:
    """pve-manager PVE/API2/VZDump.pm:78-179: the guests of the selection on this node (and VMIDs no guest
    has, to fail visibly), 'OK' without a task when the selection names only other nodes' guests; the
    worker (PVE/VZDump.pm exec_backup, :1391-1494) writes ``vzdump-<type>-<vmid>-<time>.<vma|tar>[.<ext>]``
    per guest with its notes and protection, and records the guest's configuration in it."""
    params = call.params
    node = str(params["node"])
    _vzdump_checks(params)
    selection = {**params, "all": 1 if params.get("exclude") is not None and not params.get("pool")
                 else params.get("all")}
    by_node = _backups.included_guests(mock, {k: v for k, v in selection.items() if k != "node"})
    local = sorted(by_node.pop(node, []) + by_node.pop("", []))
    skipped = sorted(v for vmids in by_node.values() for v in vmids)
    if flag(params.get("stop")) and not local:
        return Effect(answer="OK")
    if not local and not flag(selection.get("all")):
        return Effect(answer="OK")  # VZDump.pm:115-116: the guests run on other nodes
    storage, failure = _backup_storage(mock, params)
    ident = str(local[0]) if len(local) == 1 else ""
    if failure is not None:
        return Effect(error=failure, ident=ident)
    options = " ".join(f"--{k} {params[k]}" for k in sorted(params)
                       if k not in ("node", "vmid", "all") and params[k] is not None)
    log = [f"INFO: starting new backup job: vzdump {' '.join(map(str, local)) or '--all 1'} {options}".rstrip()]
    if skipped:
        log.append(f"INFO: skip external VMs: {', '.join(map(str, skipped))}")
    now, volumes, failed = mock.clock.now(), [], 0
    for vmid in local:
        guest = mock.cluster.guests.get(vmid)
        if guest is not None and not mock.permissions.check(call.identity, f"/vms/{vmid}", ["VM.Backup"],
                                                            noerr=True):
            if flag(selection.get("all")):
                continue  # VZDump.pm:1419: 'all' leaves out what the caller may not back up
            raise PVEError(403, f"Permission check failed (/vms/{vmid}, VM.Backup)\n")
        if guest is None:
            failed += 1
            log.append(f"ERROR: Backup of VM {vmid} failed - unable to find VM '{vmid}'")
            continue
        if params.get("mode") == "stop" and ha_state(mock, guest).get("state") == "started":  # VZDump.pm:939-945
            failed += 1
            log.append(f"ERROR: Backup of VM {vmid} failed - Cannot execute a backup with stop mode on a HA "
                       f"managed and enabled Service. Use snapshot mode or disable the Service.")
            continue
        log.append(f"INFO: Starting Backup of VM {vmid} ({guest.kind})")
        if storage is not None:
            volume = _backup_of(mock, guest, storage, params, now)
            volumes.append(volume)
            log.append(f"INFO: creating vzdump archive '{volume.volid.partition(':')[2]}'")
            if volume.notes:
                log.append("INFO: adding notes to backup")
            if volume.protected:
                log.append("INFO: marking backup as protected")
        log.append(f"INFO: Finished Backup of VM {vmid} (00:00:01)")
    log.append("INFO: Backup job finished with errors" if failed else "INFO: Backup job finished successfully")

    def finish() -> None:
        for volume in volumes:
            assert storage is not None
            storage.bucket(node)[volume.volid] = volume

    return Effect(finish, log, error="job errors" if failed else None, ident=ident)


def _backup_of(mock: Mock, guest: Guest, storage: Storage, params: Mapping[str, Any], now: int) -> Volume:
    kind = "qemu" if guest.kind == "qemu" else "lxc"
    fmt = _backups.archive_format(kind, params.get("compress"))
    included = {v["volume"] for v in _backups.backup_volumes(guest) if v["included"]}
    size = sum(v.size for v in _volumes.owned(mock, guest.vmid, guest.node) if v.volid in included) // 4 or GiB
    template = params.get("notes-template")
    return Volume(volid=_backups.archive_volid(storage.storage, kind, guest.vmid, now, fmt), storage=storage.storage,
                  node=guest.node, content="backup", size=size, format=fmt, vmid=guest.vmid, ctime=now,
                  notes=_backups.notes(str(template), mock, guest) if template else "",
                  protected=flag(params.get("protected")), config=dict(guest.config))


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


EFFECTS: Mapping[str, Callable[[Mock, Call], Effect]] = {
    "POST /nodes/{node}/storage/{storage}/download-url": download,
    "POST /nodes/{node}/aplinfo": appliance,
    "POST /nodes/{node}/vzdump": vzdump,
    "POST /access/domains/{realm}/sync": realm_sync,
}
