"""rrd/rrddata of nodes, guests and storages (pve-cluster src/PVE/RRD.pm create_rrd_data and
create_rrd_graph; the data sources of src/pmxcfs/status.c:1108-1184)."""

from __future__ import annotations

import itertools

from tests.mock.conftest import PVE


async def test_timeframes_have_pve9_resolutions(pve: PVE) -> None:
    # RRD.pm:65-72: hour 60 x 60 s, week 336 x 30 min; the last, still empty row may be dropped
    for timeframe, step, count in (("hour", 60, 60), ("week", 1800, 336)):
        rows = await pve.data("GET", "/nodes/pve1/rrddata", {"timeframe": timeframe})
        assert count - 1 <= len(rows) <= count
        times = [r["time"] for r in rows]
        assert all(b - a == step for a, b in itertools.pairwise(times)) and times[0] % step == 0


async def test_node_rows_carry_the_9_0_data_sources(pve: PVE) -> None:
    row = (await pve.data("GET", "/nodes/pve1/rrddata", {"timeframe": "hour"}))[-1]
    assert {"loadavg", "cpu", "iowait", "memtotal", "memused", "memavailable", "netin", "netout", "arcsize",
            "pressurecpusome", "pressurememoryfull"} <= set(row)
    assert row["memtotal"] == 32 * 1024**3 and 0 < row["cpu"] < 1


async def test_a_stopped_guest_has_no_cpu_and_a_running_one_has(pve: PVE) -> None:
    stopped = await pve.data("GET", "/nodes/pve2/qemu/101/rrddata", {"timeframe": "hour"})
    # pvestatd.pm:371-395: a stopped guest's row leaves cpu, mem, traffic unknown
    assert stopped and all("cpu" not in r and "mem" not in r and r["maxmem"] == 4096 * 1024**2 for r in stopped)
    running = await pve.data("GET", "/nodes/pve1/qemu/100/rrddata", {"timeframe": "hour"})
    assert all(r["cpu"] > 0 and r["memhost"] > 0 for r in running)
    # any node answers for any guest: the RRDs are the cluster's
    elsewhere = {r["time"]: r for r in await pve.data("GET", "/nodes/pve3/qemu/100/rrddata", {"timeframe": "hour"})}
    assert all(elsewhere[r["time"]] == r for r in running if r["time"] in elsewhere)  # a minute may have passed
    ct = await pve.data("GET", "/nodes/pve1/lxc/200/rrddata", {"timeframe": "hour"})
    assert all("memhost" not in r and r["cpu"] > 0 for r in ct)  # pvestatd.pm:653: no memhost for a CT


async def test_a_guest_started_later_has_cpu_from_its_start_on(pve: PVE) -> None:
    await pve.data("POST", "/nodes/pve2/qemu/101/status/start")
    started = pve.backend.mock.cluster.guests[101].started
    pve.backend.mock.clock.advance(1200)
    rows = await pve.data("GET", "/nodes/pve2/qemu/101/rrddata", {"timeframe": "hour"})
    assert [r for r in rows if r["time"] < started] and all("cpu" not in r for r in rows if r["time"] < started)
    assert [r for r in rows if r["time"] >= started] and all("cpu" in r for r in rows if r["time"] >= started)


async def test_max_rows_are_not_below_average(pve: PVE) -> None:
    average = await pve.data("GET", "/nodes/pve1/qemu/100/rrddata", {"timeframe": "day"})
    peak = await pve.data("GET", "/nodes/pve1/qemu/100/rrddata", {"timeframe": "day", "cf": "MAX"})
    by_time = {r["time"]: r for r in average}
    assert all(r["cpu"] >= by_time[r["time"]]["cpu"] for r in peak if r["time"] in by_time)


async def test_storage_rows_and_graph_names(pve: PVE) -> None:
    rows = await pve.data("GET", "/nodes/pve1/storage/local-lvm/rrddata", {"timeframe": "hour"})
    assert rows[-1]["total"] == 400 * 1024**3 and rows[-1]["used"] == 40 * 1024**3
    graph = await pve.data("GET", "/nodes/pve1/rrd", {"timeframe": "hour", "ds": "cpu,iowait"})
    assert graph == {"filename": "/var/lib/rrdcached/db/pve-node-9.0/pve1_cpu_iowait.png"}
    # pve-storage API2/Storage/Status.pm:458: the graph still reads the pve2 RRD
    graph = await pve.data("GET", "/nodes/pve1/storage/local-lvm/rrd", {"timeframe": "hour", "ds": "used"})
    assert graph["filename"] == "/var/lib/rrdcached/db/pve2-storage/pve1/local-lvm_used.png"


async def test_missing_guest_is_an_rrd_error(pve: PVE) -> None:
    response = await pve.get("/nodes/pve1/qemu/999/rrddata", {"timeframe": "hour"})
    assert response.status_code == 500 and response.json()["message"].startswith("RRD error: ")
