"""``rrd``/``rrddata`` of nodes, guests and storages: pve-cluster src/PVE/RRD.pm over the series the mock
makes up from the state of the moment.

The figures are a pure function of the time and the object, so the same request at the same time gives
the same series: a daily wave around what the status calls show. A guest's rows follow its state: before
it existed only the time, while it was stopped no cpu, memory use or traffic (pvestatd.pm writes those
as unknown for a guest without a process), then the running figures from its start on.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from ....errors import PVEError
from ...base import Call
from ..runtime import Handler, Mock
from ..state import Guest, Node, Storage
from . import _metrics as m
from ._params import id_list
from ._qemu_status import memhost

# RRD.pm:65-72: timeframe -> (resolution in seconds, rows)
SETUP = {"hour": (60, 60), "day": (60, 1440), "week": (1800, 336), "month": (1800, 1440),
         "year": (6 * 3600, 1440), "decade": (7 * 86400, 570)}
RRD_DIR = "/var/lib/rrdcached/db"
_PRESSURE_KEYS = ("pressurecpusome", "pressurecpufull", "pressureiosome", "pressureiofull", "pressurememorysome",
                  "pressurememoryfull")
# pve-cluster src/pmxcfs/status.c:1108-1184: the data sources of each 9.0 RRD
NODE_DS = ("loadavg", "maxcpu", "cpu", "iowait", "memtotal", "memused", "swaptotal", "swapused", "roottotal",
           "rootused", "netin", "netout", "memavailable", "arcsize", "pressurecpusome", "pressureiosome",
           "pressureiofull", "pressurememorysome", "pressurememoryfull")
GUEST_DS = ("maxcpu", "cpu", "maxmem", "mem", "maxdisk", "disk", "netin", "netout", "diskread", "diskwrite",
            "memhost", *_PRESSURE_KEYS)
STORAGE_DS = ("total", "used")
_CTIME = re.compile(r"ctime=(\d+)")

Sample = Callable[[int, float], dict[str, float] | None]


def _wave(t: int) -> float:
    """0..1 over a day: busier in the afternoon."""
    return 0.5 + 0.5 * math.sin(2 * math.pi * (t % 86400) / 86400)


def series(now: int, timeframe: str, cf: str, sample: Sample) -> list[dict[str, Any]]:
    """RRD.pm:83-130: ``count`` rows of ``reso`` seconds up to the current boundary; a last row with
    only its time is dropped. MAX rows show each bucket's peak, a quarter above its average."""
    reso, count = SETUP[timeframe]
    ctime = reso * (now // reso)
    peak = 1.25 if cf == "MAX" else 1.0
    rows: list[dict[str, Any]] = []
    for i in range(count):
        t = ctime - reso * (count - i)
        values = sample(t, peak)
        rows.append({"time": t, **(values or {})})
    if rows and len(rows[-1]) == 1:
        rows.pop()
    return rows


def _round(values: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 6) for k, v in values.items()}


def _guest_sample(mock: Mock, guest: Guest) -> Sample:
    created = int(match.group(1)) if (match := _CTIME.search(str(guest.config.get("meta", "")))) else 0
    running_since = guest.started if m.guest_running(guest) else None
    maxmem, used, maxdisk = m.guest_maxmem(guest), m.guest_mem(guest), m.guest_maxdisk(guest)
    cpus = m.guest_cpus(guest)
    host = memhost(guest) if guest.kind == "qemu" else None

    def sample(t: int, peak: float) -> dict[str, float] | None:
        if t < created:
            return None  # no RRD yet
        base: dict[str, float] = {"maxcpu": cpus, "maxmem": maxmem, "maxdisk": maxdisk, "disk": 0}
        if running_since is None or t < running_since:
            return base
        w = _wave(t) * peak
        base.update(cpu=0.01 + 0.04 * w, mem=used * (0.9 + 0.2 * w), netin=1500 * (1 + w), netout=500 * (1 + w),
                    diskread=4096 * (1 + w), diskwrite=2048 * (1 + w), pressurecpusome=0.4 * w,
                    pressurecpufull=0.3 * w, pressureiosome=0.1 * w, pressureiofull=0.05 * w,
                    pressurememorysome=0.0, pressurememoryfull=0.0)
        if host is not None:
            base["memhost"] = host * (0.95 + 0.1 * w)
        return _round(base)
    return sample


def _node_sample(mock: Mock, node: Node) -> Sample:
    cpu, mem = m.node_cpu(mock, node), m.node_mem(mock, node)

    def sample(t: int, peak: float) -> dict[str, float] | None:
        if not node.online or t < m.BOOT:
            return None
        w = _wave(t) * peak
        used = min(node.memory, mem * (0.95 + 0.1 * w))
        return _round({"loadavg": cpu * node.cpus * (0.8 + 0.4 * w), "maxcpu": node.cpus,
                       "cpu": cpu * (0.8 + 0.4 * w), "iowait": 0.002 * w, "memtotal": node.memory, "memused": used,
                       "swaptotal": 8 * m.GiB, "swapused": 0, "roottotal": 32 * m.GiB, "rootused": 4 * m.GiB,
                       "netin": 20000 * (1 + w), "netout": 8000 * (1 + w), "memavailable": node.memory - used,
                       "arcsize": 0, "pressurecpusome": 0.2 * w, "pressureiosome": 0.05 * w,
                       "pressureiofull": 0.02 * w, "pressurememorysome": 0.0, "pressurememoryfull": 0.0})
    return sample


def _storage_sample(storage: Storage, node: Node) -> Sample:
    figures = m.storage_figures(storage, node.name)

    def sample(t: int, peak: float) -> dict[str, float] | None:
        if not node.online or t < m.BOOT:
            return None
        return {"total": figures["total"], "used": figures["used"]}
    return sample


def _missing(rrdname: str) -> PVEError:
    # RRD.pm:14-15 passes librrd's error on
    return PVEError(500, f"RRD error: opening '{RRD_DIR}/{rrdname}': No such file or directory\n")


def _guest(mock: Mock, call: Call) -> Guest:
    """The RRDs are the cluster's (pmxcfs broadcasts them): any node answers for any guest."""
    mock.node(call.path_params["node"])
    vmid = int(call.path_params["vmid"])
    guest = mock.cluster.guests.get(vmid)
    if guest is None:
        raise _missing(f"pve-vm-9.0/{vmid}")
    return guest


def _storage(mock: Mock, call: Call, prefix: str = "pve-storage-9.0") -> tuple[Storage, Node]:
    """pve-storage API2/Storage/Status.pm:505-513: no storage config is read, the RRD must exist."""
    node = mock.node(call.path_params["node"])
    name = call.path_params["storage"]
    storage = mock.cluster.storages.get(name)
    if storage is None or not storage.available_on(node.name) or not m.storage_enabled(storage):
        raise _missing(f"{prefix}/{node.name}/{name}")
    return storage, node


def _graph(rrdname: str, call: Call, sources: tuple[str, ...]) -> dict[str, str]:
    """RRD.pm:133-237 create_rrd_graph: two data sources at most (one colour each); the PNG itself is
    not made, only its file name returned."""
    ids = id_list(call.params.get("ds"))
    for ds in ids:
        if ds not in sources:
            raise PVEError(500, f"RRD error: No DS called '{ds}' in '{RRD_DIR}/{rrdname}'\n")
    if len(ids) > 2:
        raise PVEError(500, "fixme: no color definition at /usr/share/perl5/PVE/RRD.pm line 201.\n")
    return {"filename": f"{RRD_DIR}/{rrdname}_{'_'.join(ids)}.png"}


def _data(mock: Mock, call: Call, sample: Sample) -> list[dict[str, Any]]:
    return series(mock.clock.now(), str(call.params["timeframe"]), str(call.params.get("cf") or "AVERAGE"), sample)


def node_rrddata(mock: Mock, call: Call) -> list[dict[str, Any]]:
    return _data(mock, call, _node_sample(mock, mock.node(call.path_params["node"])))


def node_rrd(mock: Mock, call: Call) -> dict[str, str]:
    node = mock.node(call.path_params["node"])
    return _graph(f"pve-node-9.0/{node.name}", call, NODE_DS)


def guest_rrddata(mock: Mock, call: Call) -> list[dict[str, Any]]:
    guest = _guest(mock, call)
    return _data(mock, call, _guest_sample(mock, guest))


def guest_rrd(mock: Mock, call: Call) -> dict[str, str]:
    return _graph(f"pve-vm-9.0/{_guest(mock, call).vmid}", call, GUEST_DS)


def storage_rrddata(mock: Mock, call: Call) -> list[dict[str, Any]]:
    storage, node = _storage(mock, call)
    return _data(mock, call, _storage_sample(storage, node))


def storage_rrd(mock: Mock, call: Call) -> dict[str, str]:
    # pve-storage API2/Storage/Status.pm:458-461 still names the pre-9 RRD for the graph
    storage, node = _storage(mock, call, "pve2-storage")
    return _graph(f"pve2-storage/{node.name}/{storage.storage}", call, STORAGE_DS)


ROUTES: dict[tuple[str, str], Handler] = {
    ("GET", "/nodes/{node}/rrd"): node_rrd,
    ("GET", "/nodes/{node}/rrddata"): node_rrddata,
    ("GET", "/nodes/{node}/qemu/{vmid}/rrd"): guest_rrd,
    ("GET", "/nodes/{node}/qemu/{vmid}/rrddata"): guest_rrddata,
    ("GET", "/nodes/{node}/lxc/{vmid}/rrd"): guest_rrd,
    ("GET", "/nodes/{node}/lxc/{vmid}/rrddata"): guest_rrddata,
    ("GET", "/nodes/{node}/storage/{storage}/rrd"): storage_rrd,
    ("GET", "/nodes/{node}/storage/{storage}/rrddata"): storage_rrddata,
}
