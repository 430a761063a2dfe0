"""``POST /nodes/{node}/vzdump`` (pve-manager PVE/API2/VZDump.pm, PVE/VZDump.pm): the guests of the selection
on this node, one archive each on the backup storage with its notes, protection and the guest's
configuration, then the storage's retention applied to the guest's backups.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ....errors import PVEError
from ...base import Call
from ..handlers import _backups, _prune, _volumes
from ..handlers._guest_common import ha_state
from ..handlers._params import flag
from ..runtime import Mock
from ..state import Guest, Storage, Volume
from .effect import Effect

GiB = 1024**3


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
    pruned: list[str] = []
    # VZDump.pm:711-715: the call's retention, else the storage's, else keep all (which removes nothing)
    keep = _prune.parse_keep(str(params.get("prune-backups") or (storage.config.get("prune-backups") if storage
                                                                  else None) or "keep-all=1"))
    remove = flag(params.get("remove"), default=True) and not keep.get("keep-all")
    # VZDump.pm:1413-1428: the job's list first; 'all' leaves out what the caller may not back up, else
    # the worker fails before any backup
    tasks = []
    for vmid in local:
        if vmid in mock.cluster.guests and not mock.permissions.check(call.identity, f"/vms/{vmid}", ["VM.Backup"],
                                                                      noerr=True):
            if flag(selection.get("all")):
                continue
            return Effect(log=log, error=f"Permission check failed (/vms/{vmid}, VM.Backup)", ident=ident)
        tasks.append(vmid)
    for vmid in tasks:
        guest = mock.cluster.guests.get(vmid)
        if guest is None:
            failed += 1
            log.append(f"ERROR: Backup of VM {vmid} failed - unable to find VM '{vmid}'")
            continue
        if params.get("mode") == "stop" and ha_state(mock, guest).get("state") == "started":  # VZDump.pm:939-945
            failed += 1
            log.append(f"ERROR: Backup of VM {vmid} failed - Cannot execute a backup with stop mode on a HA "
                       f"managed and enabled Service. Use snapshot mode or disable the Service.")
            continue
        refused = _retention_refusal(mock, call, storage, guest, keep, remove) if storage is not None else None
        if refused is not None:
            failed += 1
            log.append(f"ERROR: Backup of VM {vmid} failed - {refused}")
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
            if remove:
                log += _prune_after(storage, node, keep, volume, pruned)
        log.append(f"INFO: Finished Backup of VM {vmid} (00:00:01)")
    log.append("INFO: Backup job finished with errors" if failed else "INFO: Backup job finished successfully")

    def finish() -> None:
        if storage is None:
            return  # a dump directory: nothing the storages list
        bucket = storage.bucket(node)
        for volume in volumes:
            bucket[volume.volid] = volume
        for volid in pruned:
            bucket.pop(volid, None)

    return Effect(finish, log, error="job errors" if failed else None, ident=ident)


def _retention_refusal(mock: Mock, call: Call, storage: Storage, guest: Guest, keep: dict[str, int],
                       remove: bool) -> str | None:
    """VZDump.pm:955-990: without pruning, a guest's backups may not outgrow the retention; protected
    ones not the storage's limit (pve-storage get_max_protected_backups: 5 unless the caller may
    allocate on the storage)."""
    limit = 0 if keep.get("keep-all") else sum(keep.values())
    protecting = flag(call.params.get("protected"))
    if not ((limit and not remove) or protecting):
        return None
    kind = "qemu" if guest.kind == "qemu" else "lxc"
    backups = [v for v in storage.bucket(guest.node).values() if v.content == "backup" and v.vmid == guest.vmid
               and _backups.archive_kind(v.volid) in (kind, None)]
    protected = sum(1 for v in backups if v.protected)
    if protecting:
        configured = storage.config.get("max-protected-backups")
        allowed = int(configured) if configured is not None else (-1 if mock.permissions.check(
            call.identity, f"/storage/{storage.storage}", ["Datastore.Allocate"], noerr=True) else 5)
        if allowed > -1 and protected >= allowed:
            return (f"The number of protected backups per guest is limited to {allowed} on storage "
                    f"'{storage.storage}'")
    elif len(backups) - protected >= limit:
        return (f"There is a max backup limit of {limit} enforced by the target storage or the vzdump parameters. "
                f"Either increase the limit or delete old backups.")
    return None


def _prune_after(storage: Storage, node: str, keep: dict[str, int], volume: Volume, pruned: list[str]) -> list[str]:
    """VZDump.pm:1245-1277: the guest's backups of its type pruned by the retention; ``pruned`` gets what
    goes."""
    shown = ", ".join(f"{k}={v}" for k, v in sorted(keep.items()))
    kind = _backups.archive_kind(volume.volid)
    entries = _prune.prune_list(storage, node, keep, volume.vmid, kind, adding=[volume])
    gone = _prune.removed(entries)
    pruned += gone
    extra = " not covered by keep-retention policy" if gone else ""
    return [f"INFO: prune older backups with retention: {shown}", *(f"INFO: removing backup '{v}'" for v in gone),
            f"INFO: pruned {len(gone)} backup(s){extra}"]


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
