"""A VM's status as qemu-server src/PVE/QemuServer.pm:2535 ``vmstatus`` reports it (PVE 9.2).

Without ``full`` only what the config and the process give; with it (status/current always, the list
with ``full=1``) what QMP adds for a running VM: qmpstatus, the running QEMU and machine, block stats,
the balloon. A paused VM is ``status: running`` with ``qmpstatus: paused``.
"""

from __future__ import annotations

import re
from typing import Any

from ....http.envelope import Fragment
from ..runtime import Mock
from ..state import Guest
from . import _metrics as m
from ._guest_common import split_prop
from ._params import flag

QEMU_VERSION = "10.1.2"  # what PVE 9.2 ships (qemu-server's CPU models and tests follow QEMU 10.1)
MACHINE_VERSION = "10.1"
# cgroup pressure (avg10) of a lightly loaded running guest: QemuServer.pm:2641-2647, pve-container LXC.pm
PRESSURES = {"pressurecpusome": 0.42, "pressurecpufull": 0.31, "pressureiosome": 0.08, "pressureiofull": 0.06,
              "pressurememorysome": 0.0, "pressurememoryfull": 0.0}


def _cpus(mock: Mock, facts: m.ConfigFacts, guest: Guest) -> int:
    """QemuServer.pm:2569-2572: sockets x cores, at most the node's CPUs; ``vcpus`` wins."""
    if facts.vcpus is not None:
        return facts.vcpus
    return min(int(facts.cpus), mock.node(guest.node).cpus)


def running_machine(guest: Guest) -> str:
    """The machine a VM started without a pinned version runs: the newest of its type."""
    machine = str(guest.config.get("machine", "pc")).split(",")[0].removeprefix("type=")
    if re.search(r"-\d+\.\d+", machine):
        return machine if "+pve" in machine else machine + "+pve0"
    base = "pc-q35" if machine.startswith("q35") else "pc-i440fx"
    return f"{base}-{MACHINE_VERSION}+pve0"


def memhost(guest: Guest) -> int:
    """What the QEMU process uses on the host (its cgroup): the guest's memory and QEMU's own."""
    return m.guest_mem(guest) + 96 * m.MiB if m.guest_running(guest) else 0


def _blockstat(facts: m.ConfigFacts, uptime: int) -> dict[str, dict[str, int]]:
    stats: dict[str, dict[str, int]] = {}
    for index, (key, cdrom) in enumerate(facts.drives):
        busy = 0 if cdrom else uptime // (index + 1)
        stats[key] = {"rd_bytes": busy * 40960, "wr_bytes": busy * 20480, "rd_operations": busy * 10,
                      "wr_operations": busy * 5, "flush_operations": busy, "rd_total_time_ns": busy * 1000,
                      "wr_total_time_ns": busy * 2000, "flush_total_time_ns": busy * 500,
                      "failed_rd_operations": 0, "failed_wr_operations": 0, "invalid_rd_operations": 0,
                      "invalid_wr_operations": 0, "unmap_operations": 0, "idle_time_ns": 1000000,
                      "account_invalid": True, "account_failed": True}
    return stats


def _balloon(guest: Guest, uptime: int, now: int) -> dict[str, Any]:
    """query-balloon of Proxmox's QEMU: the guest's own view of its memory comes with the driver's stats."""
    maxmem = m.guest_maxmem(guest)
    used = m.guest_mem(guest)
    return {"actual": maxmem, "max_mem": maxmem, "total_mem": maxmem - 64 * m.MiB,
            "free_mem": maxmem - 64 * m.MiB - used, "mem_swapped_in": 0, "mem_swapped_out": 0,
            "major_page_faults": 120 + uptime // 60, "minor_page_faults": 40000 + uptime * 10,
            "last_update": now}


# (vmid, full) -> (everything the answer is made of, the answer): a list of a thousand guests asks again
# for the same answers, and a running guest's figures change once a second. Compared with what the
# guest is made of now, so never stale; one per guest (the last one), and bounded, since every guest a
# write created leaves its entry behind.
_ANSWERS: dict[tuple[int, bool], tuple[tuple[Any, ...], Fragment]] = {}
_ANSWERS_MAX = 8192


def qemu_status(mock: Mock, guest: Guest, full: bool, copy: bool = True) -> dict[str, Any]:
    """A fresh dict each call (callers add to it); with ``copy`` false, the kept answer itself, a
    Fragment carrying its JSON text, for a list that only sends it."""
    now = mock.clock.now()
    running = guest.status in m.RUNNING
    uptime = max(0, now - guest.started) if running and guest.started else 0  # m.guest_uptime, inline: per guest
    node = mock.cluster.nodes.get(guest.node)
    made_of = (tuple(guest.config.items()), guest.status, guest.lock, guest.pid, uptime,
               now if full and running else 0, node.cpus if node is not None else None)
    slot = (guest.vmid, full)
    kept = _ANSWERS.get(slot)
    if kept is not None and kept[0] == made_of:
        return dict(kept[1]) if copy else kept[1]
    answer = Fragment(_qemu_status(mock, guest, full, now, running, uptime))
    if len(_ANSWERS) >= _ANSWERS_MAX:
        _ANSWERS.clear()
    _ANSWERS[slot] = (made_of, answer)
    return dict(answer) if copy else answer


def _qemu_status(mock: Mock, guest: Guest, full: bool, now: int, running: bool, uptime: int) -> dict[str, Any]:
    conf = guest.config
    facts = m.config_facts(guest)
    d: dict[str, Any] = {"vmid": guest.vmid, "status": "running" if running else "stopped", "disk": 0,
                         "maxdisk": facts.maxdisk, "cpus": _cpus(mock, facts, guest), "name": guest.name,
                         "maxmem": facts.maxmem}
    if conf.get("balloon") and str(conf["balloon"]) != "0":
        d["balloon_min"] = int(str(conf["balloon"])) * m.MiB
        d["shares"] = int(str(conf.get("shares", 1000)))
    d.update(uptime=uptime, cpu=0, mem=0, memhost=0, netout=0, netin=0)
    if guest.template:
        d["template"] = 1
    if facts.serial:
        d["serial"] = 1
    if guest.lock:
        d["lock"] = guest.lock
    if "tags" in conf:
        d["tags"] = str(conf["tags"])
    nics = facts.nics
    if running:
        d["pid"] = guest.pid
        traffic = uptime * 1500
        d.update(cpu=0.01, mem=memhost(guest), memhost=memhost(guest), netin=traffic * len(nics),
                 netout=traffic * len(nics) // 3, **PRESSURES)
        if full:
            d["nics"] = {f"tap{guest.vmid}i{n}": {"netin": traffic, "netout": traffic // 3} for n in nics}
    if not full:
        return d
    if running:
        blockstat = _blockstat(facts, uptime)
        d.update({"proxmox-support": {"pbs-dirty-bitmap": True, "pbs-dirty-bitmap-migration": True,
                                      "pbs-dirty-bitmap-savevm": True, "pbs-library-version": "1.5.2",
                                      "pbs-masterkey": True, "query-bitmap-info": True,
                                      "backup-fleecing": True, "backup-max-workers": True},
                  "blockstat": blockstat,
                  "diskread": sum(s["rd_bytes"] for s in blockstat.values()),
                  "diskwrite": sum(s["wr_bytes"] for s in blockstat.values()),
                  "running-machine": running_machine(guest), "running-qemu": QEMU_VERSION})
        if str(conf.get("balloon", "1")) != "0":  # without a balloon device query-balloon fails: no figures
            info = _balloon(guest, uptime, now)
            d.update(maxmem=info["max_mem"], balloon=info["actual"], mem=info["total_mem"] - info["free_mem"],
                     freemem=info["free_mem"], ballooninfo=info)
        d["qmpstatus"] = guest.status
    else:
        d["qmpstatus"] = d["status"]
    return d



def agent_enabled(guest: Guest) -> bool:
    """QemuServer/Agent.pm:64-73 parse_guest_agent: ``enabled`` is the default key."""
    head, opts = split_prop(str(guest.config.get("agent", "0")))
    return flag(opts.get("enabled", head))


def display_flags(guest: Guest) -> dict[str, Any]:
    """qemu-server API2/Qemu.pm vm_status: ``spice`` for a virtio or qxl display (QemuServer.pm:2950
    vga_conf_has_spice), the display's ``clipboard``."""
    if "vga" not in guest.config:
        return {}
    head, opts = split_prop(str(guest.config["vga"]))
    kind = opts.get("type", head) or ""
    flags: dict[str, Any] = {}
    if kind.startswith("virtio") or re.fullmatch(r"qxl[234]?", kind):
        flags["spice"] = 1
    if "clipboard" in opts:
        flags["clipboard"] = opts["clipboard"]
    return flags
