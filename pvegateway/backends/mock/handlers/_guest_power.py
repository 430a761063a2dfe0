"""Guest lists, status and power: start/stop/shutdown/reboot/reset/suspend/resume as PVE's workers do them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ....errors import PVEError
from ....http.envelope import Fragment
from ...base import Call
from ..runtime import Mock
from ..state import Guest
from ..store.data import guest_place
from . import _metrics as m
from . import _volumes as vols
from ._cloudinit import image_made
from ._guest_common import (
    LXC,
    QEMU,
    Kind,
    MiB,
    check_lock,
    disk_size,
    guest_of,
    ha_state,
    join_pool,
    task,
    worker,
)
from ._guest_config import apply_pending
from ._guest_devices import Plan, check_bridges
from ._params import flag
from ._qemu_status import PRESSURES, agent_enabled, display_flags, qemu_status


def _uptime(mock: Mock, guest: Guest) -> int:
    return max(0, mock.clock.now() - guest.started) if guest.status != "stopped" and guest.started else 0


def _maxdisk(guest: Guest) -> int:
    return disk_size(str(guest.config.get("rootfs", "")))


def summary(mock: Mock, guest: Guest, full: bool = False, copy: bool = True) -> dict[str, Any]:
    """One guest's status as the list and status/current report it (``copy``: see ``qemu_status``)."""
    if guest.kind == "qemu":
        return qemu_status(mock, guest, full, copy)
    config = guest.config
    running = guest.status != "stopped"
    memory = int(str(config.get("memory", "512")).split(",")[0].split("=")[-1]) * MiB
    cpus = int(config.get("cores", mock.node(guest.node).cpus))
    answer: dict[str, Any] = {
        "vmid": guest.vmid, "name": guest.name, "status": "running" if running else "stopped",
        "cpus": cpus, "maxmem": memory, "mem": m.guest_mem(guest), "swap": 0, "maxdisk": _maxdisk(guest),
        "disk": 0, "uptime": _uptime(mock, guest), "cpu": 0.01 if running else 0, "netin": 0, "netout": 0,
        "diskread": 0, "diskwrite": 0,
    }
    if running:  # pve-container src/PVE/LXC.pm vmstatus: a running CT's cgroup pressure
        answer["pid"] = guest.pid
        answer.update(PRESSURES)
    answer["type"] = "lxc"
    answer["maxswap"] = int(config.get("swap", 512)) * MiB
    if guest.template:
        answer["template"] = 1
    if guest.lock:
        answer["lock"] = guest.lock
    if config.get("tags"):
        answer["tags"] = config["tags"]
    return answer


def list_guests(kind: Kind) -> Callable[[Mock, Call], list[dict[str, Any]]]:
    def handler(mock: Mock, call: Call) -> list[dict[str, Any]]:
        node = mock.node(call.path_params["node"]).name
        perms = mock.permissions
        # qemu-server Qemu.pm:1113, pve-container LXC.pm: only guests the caller has VM.Audit on
        full = kind.name == "qemu" and flag(call.params.get("full"))  # Qemu.pm vmlist: vmstatus(undef, full)
        everywhere = perms.holds_everywhere(call.identity)
        here = sorted((g for g in mock.cluster.guests.values() if g.node == node and g.kind == kind.name),
                      key=lambda g: g.vmid)  # the node's guests only are sorted, not the cluster's
        return [summary(mock, g, full, copy=False) for g in here
                if everywhere or perms.check(call.identity, f"/vms/{g.vmid}", ["VM.Audit"], noerr=True)]
    return handler


def guest_index(kind: Kind) -> Callable[[Mock, Call], list[dict[str, Any]]]:
    subdirs = (["config", "pending", "status", "unlink", "vncproxy", "termproxy", "migrate", "resize", "move",
                "rrd", "rrddata", "monitor", "agent", "snapshot", "spiceproxy", "sendkey", "firewall", "mtunnel",
                "remote_migrate"] if kind.name == "qemu" else
               ["config", "status", "vncproxy", "termproxy", "vncwebsocket", "spiceproxy", "migrate", "clone",
                "rrd", "firewall", "rrddata", "snapshot", "resize", "interfaces", "pending", "mtunnel"])

    def handler(mock: Mock, call: Call) -> list[dict[str, Any]]:
        guest_of(mock, call, kind)
        return [{"subdir": s} for s in subdirs]
    return handler


def status_index(kind: Kind) -> Callable[[Mock, Call], list[dict[str, Any]]]:
    def handler(mock: Mock, call: Call) -> list[dict[str, Any]]:
        guest_of(mock, call, kind)
        names = ["current", "start", "stop", "reset", "shutdown", "suspend", "reboot", "resume"]
        if kind.name == "lxc":
            names.remove("reset")
        return [{"subdir": n} for n in names]
    return handler


# vmid -> (the VM's kept status, its HA state, the status/current answer made of them): the answer is
# the same while both are (the status is a new object whenever the guest's config or state changes)
_CURRENT: dict[int, tuple[dict[str, Any], dict[str, Any], Fragment]] = {}
_CURRENT_MAX = 8192


def current(kind: Kind) -> Callable[[Mock, Call], dict[str, Any]]:
    def handler(mock: Mock, call: Call) -> dict[str, Any]:
        guest = guest_of(mock, call, kind)
        ha = ha_state(mock, guest)
        if kind.name != "qemu":
            answer = summary(mock, guest, full=True)
            answer["ha"] = ha
            return answer
        status = qemu_status(mock, guest, True, copy=False)
        kept = _CURRENT.get(guest.vmid)
        if kept is not None and kept[0] is status and kept[1] == ha:
            return kept[2]
        answer = dict(status)
        answer["ha"] = ha
        answer.update(display_flags(guest))
        if agent_enabled(guest):  # Qemu.pm vm_status: the key only when the agent is enabled
            answer["agent"] = 1
        made = Fragment(answer)
        if len(_CURRENT) >= _CURRENT_MAX:
            _CURRENT.clear()
        _CURRENT[guest.vmid] = (status, ha, made)
        return made
    return handler


def _start(mock: Mock, guest: Guest) -> None:
    mock.cluster.next_pid += 1
    guest.pid = mock.cluster.next_pid
    guest.status = "running"
    guest.started = mock.clock.now()


def power_off(guest: Guest) -> None:
    guest.status = "stopped"
    guest.pid = 0
    guest.started = 0


def check_startable(guest: Guest) -> None:
    """qemu-server QemuServer.pm:5512, pve-container LXC/Status.pm:191."""
    if guest.template:
        raise PVEError(500, f"you can't start a {'vm' if guest.kind == 'qemu' else 'CT'} if it's a template\n")


def power_on(mock: Mock, guest: Guest) -> None:
    """The effect of a start: pending changes applied, bridges checked, the guest running."""
    label = "VM" if guest.kind == "qemu" else "CT"
    check_startable(guest)
    if guest.status != "stopped":
        raise PVEError(500, f"{label} {guest.vmid} already running\n")
    check_bridges(mock, guest)
    apply_pending(mock, guest)
    image_made(guest)  # qemu-server QemuServer.pm:5606: a start makes the cloud-init image anew
    _start(mock, guest)


def _restart(mock: Mock, guest: Guest) -> None:
    power_off(guest)
    power_on(mock, guest)


def _not_running(kind: Kind, guest: Guest, label: str | None = None) -> PVEError:
    return PVEError(500, f"{label or kind.label} {guest.vmid} not running\n")


def _lxc_running(guest: Guest) -> bool:
    """PVE::LXC::check_running: a suspended CT is checkpointed and stopped (``lxc-checkpoint -s``,
    pve-container src/PVE/API2/LXC/Status.pm:443)."""
    return guest.status == "running"


def _qemu_checks(verb: str, guest: Guest, params: Any) -> None:
    """What qemu-server checks before forking: the VM's state (Qemu.pm:3842 reset, :3928 shutdown,
    :4011-4013 reboot, :4087 suspend, :4191 resume); the lock it checks in the worker."""
    if verb == "shutdown" and guest.status == "paused" and not flag(params.get("forceStop")):
        raise PVEError(500, "VM is paused - cannot shutdown\n")
    if verb == "reboot" and guest.status == "paused":
        raise PVEError(500, "VM is paused - cannot shutdown\n")
    if verb in ("reset", "reboot", "suspend", "resume") and guest.status == "stopped":
        raise _not_running(QEMU, guest)


def _lxc_checks(verb: str, guest: Guest) -> None:
    """What pve-container checks before forking (LXC/Status.pm:162 start, :264 stop, :363 shutdown,
    :430 suspend, :485 resume, :542 reboot, which names the CT a VM)."""
    running = _lxc_running(guest)
    if verb in ("start", "resume") and running:
        raise PVEError(500, f"CT {guest.vmid} already running\n")
    if verb in ("stop", "shutdown", "suspend") and not running:
        raise _not_running(LXC, guest)
    if verb == "reboot" and not running:
        raise _not_running(LXC, guest, "VM")


def action(kind: Kind, verb: str) -> Callable[[Mock, Call], str]:
    """``POST .../status/<verb>``: the state checks PVE makes before forking answer at once; the lock (and
    a template's start) is checked in the worker, whose task then fails (QemuServer.pm:5512, :6090, :6260,
    RunState.pm:34, :172; LXC/Status.pm:191-195, :302, :387, :441; LXC reboot and resume check no lock)."""
    def handler(mock: Mock, call: Call) -> str:
        guest = guest_of(mock, call, kind)
        params = call.params
        if kind is QEMU:
            _qemu_checks(verb, guest, params)
        else:
            _lxc_checks(verb, guest)

        def checks() -> None:
            if verb == "start":
                check_startable(guest)
                if kind is QEMU and guest.lock == "suspended":  # QemuServer.pm:5515, :5526-5527
                    return
            if kind is QEMU or verb not in ("reboot", "resume"):
                check_lock(guest, params)

        if verb == "start":
            finish: Callable[[], None] = lambda: power_on(mock, guest)  # noqa: E731
        elif verb in ("stop", "shutdown"):
            finish = lambda: power_off(guest)  # noqa: E731
        elif verb == "reboot":
            finish = lambda: _restart(mock, guest)  # noqa: E731
        elif verb == "suspend":
            finish = lambda: setattr(guest, "status", "paused")  # noqa: E731
        else:  # resume, reset
            finish = lambda: setattr(guest, "status", "running")  # noqa: E731
        return worker(mock, call, guest, f"{kind.task_prefix}{verb}", checks, finish)
    return handler


def power_routes(kind: Kind, base: str) -> dict[tuple[str, str], Callable[[Mock, Call], Any]]:
    routes: dict[tuple[str, str], Callable[[Mock, Call], Any]] = {
        ("GET", base): list_guests(kind),
        ("GET", base + "/{vmid}"): guest_index(kind),
        ("GET", base + "/{vmid}/status"): status_index(kind),
        ("GET", base + "/{vmid}/status/current"): current(kind),
    }
    verbs = ["start", "stop", "shutdown", "reboot", "suspend", "resume"] + (["reset"] if kind is QEMU else [])
    for verb in verbs:
        routes[("POST", f"{base}/{{vmid}}/status/{verb}")] = action(kind, verb)
    return routes


def add_created(mock: Mock, call: Call, guest: Guest, task_type: str, plan: Plan) -> str:
    """Put a new guest in the cluster (locked until its create task ends), make its new disks (``plan``)
    and start the task.

    The guest is visible at once, like PVE's config file written before the worker runs; ``start=1``
    powers it on when the task finishes. A disk the storage cannot make fails the task, which removes
    what it made (qemu-server src/PVE/API2/Qemu.pm:1372, :1544-1550; pve-container
    src/PVE/API2/LXC.pm:417, :629).
    """
    params = call.params
    guest.lock = "create"
    mock.cluster.guests[guest.vmid] = guest
    join_pool(mock, guest, params.get("pool"))
    start = flag(params.get("start"))
    try:
        plan.commit()
    except PVEError as err:
        noun = "VM" if guest.kind == "qemu" else "CT"
        return task(mock, call, guest, task_type, str(guest.vmid), finish=lambda: discard(mock, guest),
                    error=f"unable to create {noun} {guest.vmid} - {err.message}".rstrip("\n"))

    def finish() -> None:
        guest.lock = None
        if start:
            power_on(mock, guest)

    return task(mock, call, guest, task_type, str(guest.vmid), finish=finish, cancel=lambda: discard(mock, guest))


def discard(mock: Mock, guest: Guest) -> None:
    """Remove a guest whose create or clone was stopped, with its volumes and pool membership (as
    PVE's workers clean up when interrupted): no guest is left locked forever."""
    if mock.cluster.guests.get(guest.vmid) is not guest:
        return
    for volume in vols.owned(mock, guest.vmid, guest.node):
        vols.free(mock, volume.volid, volume.node)
    for pool in mock.cluster.pools.values():
        if guest.vmid in pool.vmids:
            pool.vmids.remove(guest.vmid)
    del mock.cluster.guests[guest.vmid]
    mock.cluster.store.drop(guest_place(guest.vmid))  # remove_vmfw_conf: Qemu.pm:4723, LXC.pm:625
