"""Backup retention: which backups a ``prune-backups`` policy keeps (pve-storage src/PVE/Storage.pm:1980-2103
prune_backups, prune_mark_backup_group; Storage/Plugin.pm:2074-2143 the per-storage list), for the
``prunebackups`` calls and for vzdump's pruning after a backup.
"""

from __future__ import annotations

import calendar
import time
from collections.abc import Callable, Iterable
from typing import Any

from ....errors import PVEError
from ..state import Storage, Volume
from ._backups import BACKUP_NAME, archive_kind

_PERIODS: tuple[tuple[str, Callable[[time.struct_time], str]], ...] = (
    ("keep-hourly", lambda t: time.strftime("%H/%d/%m/%Y", t)),
    ("keep-daily", lambda t: time.strftime("%d/%m/%Y", t)),
    ("keep-weekly", lambda t: time.strftime("%V/%G", t)),
    ("keep-monthly", lambda t: time.strftime("%m/%Y", t)),
    ("keep-yearly", lambda t: time.strftime("%Y", t)),
)


def parse_keep(text: str) -> dict[str, int]:
    """A ``prune-backups`` property string (the schema has checked its form)."""
    return {k: int(v) for k, _, v in (p.partition("=") for p in text.split(",") if p)}


def policy(storage: Storage, given: Any) -> dict[str, int]:
    """Storage.pm:1983-1990: the given policy, else the storage's, else PVE's error."""
    if "backup" not in storage.content:
        raise PVEError(500, f"storage '{storage.storage}' does not support backups\n")
    text = given if given is not None else storage.config.get("prune-backups")
    if text is None:
        raise PVEError(500, f"no prune-backups options configured for storage '{storage.storage}'\n")
    return parse_keep(str(text))


def _mark(entries: list[dict[str, Any]], count: int, period: Callable[[int], Any]) -> None:
    """Storage.pm:1998-2026 $prune_mark: the newest backup of each of ``count`` periods is kept."""
    if not count:
        return
    kept = {period(e["ctime"]) for e in entries if e.get("mark") == "keep"}
    new: set[Any] = set()
    for entry in entries:
        key = period(entry["ctime"])
        if entry.get("mark") is not None or key in kept:
            continue
        if key not in new:
            if len(new) >= count:
                break
            new.add(key)
            entry["mark"] = "keep"
        else:
            entry["mark"] = "remove"


def _of_time(period: Callable[[time.struct_time], str]) -> Callable[[int], str]:
    return lambda ctime: period(time.gmtime(ctime))


def mark_group(group: list[dict[str, Any]], keep: dict[str, int]) -> None:
    """Storage.pm:2028-2103 prune_mark_backup_group (the mock's nodes keep UTC)."""
    if keep.get("keep-all") or not any(v > 0 for k, v in keep.items() if k != "keep-all"):
        for entry in group:
            if not entry.get("mark") or entry["mark"] == "remove":
                entry["mark"] = "keep"
        return
    ordered = sorted(group, key=lambda e: -int(e["ctime"]))
    _mark(ordered, keep.get("keep-last", 0), lambda ctime: ctime)
    for option, period in _PERIODS:
        _mark(ordered, keep.get(option, 0), _of_time(period))
    for entry in ordered:
        entry.setdefault("mark", "remove")


def _ctime(name: str, fallback: int) -> int:
    """pve-storage archive_info: the time the standard name records."""
    match = BACKUP_NAME.fullmatch(name)
    if match is None:
        return fallback
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[2:8])
    return calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))


def prune_list(storage: Storage, node: str, keep: dict[str, int], vmid: Any = None, kind: Any = None,
               adding: Iterable[Volume] = ()) -> list[dict[str, Any]]:
    """Plugin.pm:2079-2120: the storage's backups (of the guest, of the type; with those ``adding`` puts
    there) and their marks: 'protected', 'renamed' (no standard name), else the policy's per guest and type."""
    groups: dict[str, list[dict[str, Any]]] = {}
    out = []
    for volume in sorted([*storage.bucket(node).values(), *adding], key=lambda v: v.volid):
        if volume.content != "backup" or (vmid is not None and volume.vmid != int(vmid)):
            continue
        name = volume.volid.partition("/")[2]
        backup_type = archive_kind(volume.volid) or "unknown"
        if kind is not None and str(kind) != backup_type:
            continue
        entry: dict[str, Any] = {"volid": volume.volid, "ctime": _ctime(name, volume.ctime), "type": backup_type}
        if volume.vmid is not None:
            entry["vmid"] = volume.vmid
        if BACKUP_NAME.fullmatch(name):
            groups.setdefault(f"{backup_type}/{volume.vmid}", []).append(entry)
        else:
            entry["mark"] = "renamed"
        if volume.protected:
            entry["mark"] = "protected"
        out.append(entry)
    for group in groups.values():
        mark_group(group, keep)
    return out


def removed(entries: Iterable[dict[str, Any]]) -> list[str]:
    """Plugin.pm:2124-2138: the backups marked 'remove'."""
    return [e["volid"] for e in entries if e["mark"] == "remove"]
