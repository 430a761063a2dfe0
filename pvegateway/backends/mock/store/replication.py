"""Storage replication jobs: PVE's checks when one is made (pve-manager PVE/API2/ReplicationConfig.pm:133-186),
the state the node's replication runner keeps per job (pve-guest-common ReplicationState.pm) and what
``/nodes/{node}/replication`` shows of it (pve-manager PVE/API2/Replication.pm).

The mock runs no ``pvesr`` every minute: ``schedule_now`` runs the job at once (PVE's runner picks a job
scheduled now within the minute), so a client waiting for ``last_sync`` to move sees it move.
"""

from __future__ import annotations

import re
import time
from typing import Any

from ....errors import PVEError
from ...base import Call
from ..handlers._guest_common import QEMU, is_cdrom, kind_of, split_prop, volume_of
from ..runtime import Mock
from ..state import Guest
from . import defaults
from .act import Act

JOBS = "/cluster/replication"
# /var/lib/pve-manager/pve-replication-state.json, by job: under the job, so that it goes with the job
_STATE = JOBS + "/{id}/state"
_LOG = 20  # lines a job's log keeps (a run writes its log anew: Replication.pm:497)
_DEFAULT_SCHEDULE = "*/15"  # ReplicationState.pm:298


def _guest(ident: str) -> int:
    return int(ident.split("-", 1)[0])  # ReplicationConfig.pm:27 parse_replication_job_id


def _replicated_volumes(mock: Mock, guest: Guest) -> list[str]:
    """qemu-server QemuConfig.pm:136-179 (pve-container's alike) get_replicatable_volumes: the guest's
    own volumes on local storages, each of which must be able to replicate (only ZFS can)."""
    kind = kind_of(guest)
    out = []
    for key, value in guest.config.items():
        if not kind.is_volume_key(key) or (kind is QEMU and is_cdrom(str(value))):
            continue
        if split_prop(str(value))[1].get("replicate", "1") in ("0", "no", "off", "false"):
            continue
        volid = volume_of(str(value)) or ""
        if volid.startswith("/"):
            raise PVEError(500, f"unable to replicate local file/device '{volid}'\n")
        storage = mock.cluster.storages.get(volid.partition(":")[0])
        if storage is None or storage.shared:
            continue
        if not re.search(rf"(?:^|/)(?:vm|base|subvol|basevol)-{guest.vmid}-", volid.partition(":")[2]):
            continue  # another guest's volume
        if storage.type != "zfspool":
            raise PVEError(500, f"missing replicate feature on volume '{volid}'\n")
        out.append(volid)
    return sorted(out)


def validate(act: Act, ident: str) -> None:
    """ReplicationConfig.pm:145-168 and its write_config (:178-180): the guest and target exist, the
    source is the guest's node and differs from the target, the guest has volumes to replicate, one job
    per guest and target."""
    params, cluster = act.params, act.cluster
    vmid = _guest(ident)
    guest = cluster.guests.get(vmid)
    if guest is None:
        raise PVEError(500, f"Guest '{vmid}' does not exist.\n")
    target = str(params.get("target"))
    if target not in cluster.nodes:
        raise PVEError(500, f"Target '{target}' does not exist.\n")
    source = params.get("source")
    if source is not None and str(source) != guest.node:
        raise PVEError(500, f"Source '{source}' does not match current node of guest '{vmid}' ({guest.node})\n")
    if target == guest.node:
        raise PVEError(500, "Source and target must not be identical\n")
    if not _replicated_volumes(act.mock, guest):
        raise PVEError(500, "No replicatable volumes found\n")
    for other, job in act.section().items():
        if _guest(other) == vmid and job.get("target") == target:
            raise PVEError(500, f"replication job for guest '{vmid}' to target 'local/{target}' already exists\n")


def _state(mock: Mock, ident: str) -> dict[str, Any]:
    """ReplicationState.pm:46-63 extract_job_state: zeros until the job first ran."""
    kept = mock.cluster.store.singletons.get(_STATE.format(id=ident)) or {}
    return {"last_try": 0, "last_sync": 0, "fail_count": 0, **kept}


def _local_jobs(mock: Mock, node: str) -> dict[str, dict[str, Any]]:
    """ReplicationState.pm:238-313 job_status(1): the jobs of the guests on this node, but the ones that
    would sync to the node itself, with their state and next run."""
    out = {}
    for ident, job in sorted(defaults.section(mock.cluster, JOBS, {}).items()):
        guest = mock.cluster.guests.get(_guest(ident))
        if guest is None or guest.node != node or (job.get("target") == node and not job.get("remove_job")):
            continue
        state = _state(mock, ident)
        data: dict[str, Any] = {**job, "id": ident, "guest": guest.vmid, "jobnum": int(ident.split("-", 1)[1]),
                                "source": job.get("source", node), "vmtype": guest.kind}
        for key in ("last_sync", "last_try", "fail_count", "error", "duration"):  # Replication.pm:170-185
            if key in state:
                data[key] = state[key]
        if job.get("remove_job"):
            data["next_sync"] = 1
        elif state["fail_count"]:
            data["next_sync"] = state["last_try"] + 60 * (5 * state["fail_count"] if state["fail_count"] <= 3 else 30)
        else:
            data["next_sync"] = next_event(str(job.get("schedule") or _DEFAULT_SCHEDULE), int(state["last_try"]))
        out[ident] = data
    return out


def node_jobs(mock: Mock, call: Call) -> list[dict[str, Any]]:
    """Replication.pm:225-242: ``guest`` filtering; the VM.Audit filter is the in-code guard's."""
    wanted = call.params.get("guest")
    jobs = _local_jobs(mock, str(call.params["node"])).values()
    return [j for j in jobs if wanted is None or str(j["guest"]) == str(wanted)]


def job_status(mock: Mock, call: Call) -> dict[str, Any]:
    """Replication.pm:309-321: one job of this node, or PVE's error."""
    ident = str(call.params["id"])
    found = _local_jobs(mock, str(call.params["node"])).get(ident)
    if found is None:
        raise PVEError(500, f"no such replication job '{ident}'\n")
    return found


def job_log(mock: Mock, call: Call) -> list[dict[str, Any]]:
    """Replication.pm:383-393: the last run's log, numbered from 1 as dump_logfile counts."""
    lines = list(_state(mock, str(call.params["id"])).get("log") or [])
    start, limit = int(call.params.get("start") or 0), call.params.get("limit")
    shown = lines[start:] if limit is None else lines[start:start + int(limit)]
    return [{"n": start + i + 1, "t": text} for i, text in enumerate(shown)]


def schedule_now(mock: Mock, call: Call) -> str:
    """Replication.pm:415-434, then the run pve-guest-common Replication.pm:470-530 makes: snapshots of the
    guest's volumes sent to the target, ``last_sync`` moved to the run's start."""
    ident = str(call.params["id"])
    job = defaults.section(mock.cluster, JOBS, {}).get(ident)
    if job is None:
        raise PVEError(500, f"no such replication job '{ident}'\n")
    guest = mock.cluster.guests.get(_guest(ident))
    if guest is None or guest.node != str(call.params["node"]):
        return ""  # the runner of this node does not see the job (ReplicationState.pm:257-260)
    now = mock.clock.now()
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(now))
    state = _state(mock, ident)
    snapname = f"__replicate_{ident}_{now}__"  # ReplicationState.pm:193-200
    volumes = _replicated_volumes(mock, guest)
    steps = ["start replication job", f"guest => {kind_of(guest).label} {guest.vmid}, "
             f"running => {int(guest.status == 'running')}", f"volumes => {','.join(volumes)}"]
    steps += [f"create snapshot '{snapname}' on {v}" for v in volumes]
    steps.append(f"using secure transmission, rate limit: {job['rate']} MByte/s" if job.get("rate")
                 else "using secure transmission, rate limit: none")
    previous = f"__replicate_{ident}_{state['last_sync']}__"
    steps += [f"incremental sync '{v}' ({previous} => {snapname})" if state["last_sync"] else
              f"full sync '{v}' ({snapname})" for v in volumes]
    steps.append("end replication job")
    state.update(last_try=now, last_sync=now, fail_count=0, duration=1.5,
                 log=[f"{stamp} {ident}: {line}" for line in steps][-_LOG:])
    state.pop("error", None)
    mock.cluster.store.singletons[_STATE.format(id=ident)] = state
    return ""  # no task, no text (Replication.pm:424-434)


# --- calendar events (the subset replication schedules use) ---------------------------------------------

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SPECIAL = {"minutely": "*:*", "hourly": "*:00", "daily": "00:00", "weekly": "mon 00:00"}


def _values(spec: str, limit: int, names: tuple[str, ...] = ()) -> set[int] | None:
    """One calendar component (``*``, ``5``, ``*/15``, ``0/10``, ``1..5``, lists): the values it takes."""
    out: set[int] = set()
    for part in spec.split(","):
        base, _, step = part.partition("/")
        low, sep, high = base.partition("..")
        index = {n: i for i, n in enumerate(names)}
        try:
            if base == "*":
                first, last = 0, limit - 1
            else:
                first = index[low] if low in index else int(low)
                last = (index[high] if high in index else int(high)) if sep else (limit - 1 if step else first)
            out.update(range(first, last + 1, int(step) if step else 1))
        except (KeyError, ValueError):
            return None
    return out


def next_event(schedule: str, after: int) -> int:
    """proxmox-time compute_next_event for ``[weekdays] [hour:]minute``: the first matching minute
    after ``after`` (UTC, the mock's nodes' zone); 0 for what this subset cannot read (PVE's ``// 0``)."""
    text = _SPECIAL.get(schedule.strip(), schedule.strip())
    parts = text.split()
    days: set[int] | None = set(range(7))
    if parts and parts[0][:3] in _DAYS:
        days = _values(parts.pop(0), 7, _DAYS)
    if len(parts) != 1 or days is None:
        return 0
    hour_spec, _, minute_spec = parts[0].rpartition(":")
    hours, minutes = _values(hour_spec or "*", 24), _values(minute_spec, 60)
    if hours is None or minutes is None or not minutes:
        return 0
    start = (after // 60 + 1) * 60
    for minute in range(start, start + 8 * 86400, 60):  # a week and a day: every weekday seen
        t = time.gmtime(minute)
        if t.tm_wday in days and t.tm_hour in hours and t.tm_min in minutes:
            return minute
    return 0
