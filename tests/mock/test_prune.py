"""Retention marks as pve-storage src/PVE/Storage.pm:1998-2103 (prune_mark_backup_group) gives them: each
``keep-*`` option keeps the newest backup of as many periods as it says, counting from where the options
before it stopped, per guest and type."""

from __future__ import annotations

import calendar

from pvegateway.backends.mock.state import Volume
from tests.mock.conftest import PVE


def _stamp(day: int, hour: int) -> str:
    return f"2025_06_{day:02d}-{hour:02d}_00_00"


async def test_keep_last_then_daily_counts_days_the_last_did_not_keep(pve: PVE) -> None:
    bucket = pve.backend.mock.cluster.storages["local"].bucket("pve1")
    times = ((1, 10), (1, 12), (2, 9), (3, 9))
    made = {(d, h): f"local:backup/vzdump-qemu-100-{_stamp(d, h)}.vma.zst" for d, h in times}
    for (day, hour), volid in made.items():
        bucket[volid] = Volume(volid=volid, storage="local", node="pve1", content="backup", size=1, format="vma.zst",
                               vmid=100, ctime=calendar.timegm((2025, 6, day, hour, 0, 0, 0, 0, 0)))
    marks = await pve.data("GET", "/nodes/pve1/storage/local/prunebackups",
                           {"prune-backups": "keep-last=1,keep-daily=2"})
    by_volid = {e["volid"]: e["mark"] for e in marks}
    # keep-last keeps June 3rd; keep-daily then keeps the newest of June 2nd and of June 1st
    assert by_volid == {made[3, 9]: "keep", made[2, 9]: "keep", made[1, 12]: "keep", made[1, 10]: "remove"}
    only_daily = await pve.data("GET", "/nodes/pve1/storage/local/prunebackups", {"prune-backups": "keep-daily=1"})
    assert [e["volid"] for e in only_daily if e["mark"] == "keep"] == [made[3, 9]]
    unlimited = await pve.data("GET", "/nodes/pve1/storage/local/prunebackups", {"prune-backups": "keep-all=1"})
    assert {e["mark"] for e in unlimited} == {"keep"}
    wrong = await pve.get("/nodes/pve1/storage/local-lvm/prunebackups", {"prune-backups": "keep-last=1"})
    assert wrong.json()["message"] == "storage 'local-lvm' does not support backups\n"  # Storage.pm:1984
