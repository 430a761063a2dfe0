"""Concurrent updates never lose one silently: with ``digest`` an update is applied or refused with
PVE's message, and disk resizes that overlap as tasks add up like PVE's locked workers."""

from __future__ import annotations

import asyncio

import pytest

from pvegateway.testing import PVEMock
from tests.concurrency.conftest import CLIENTS, Client

GiB = 1024**3
# the digest mismatch messages of qemu-server (Qemu.pm) and pve-common's assert_if_modified (pct)
MISMATCH = {"qemu": "checksum mismatch (file change by other user?)\n",
            "lxc": "detected modified configuration - file changed by other user? Try again.\n"}


@pytest.mark.parametrize(("kind", "where"), [("qemu", "/nodes/pve2/qemu/101"), ("lxc", "/nodes/pve1/lxc/200")])
async def test_read_modify_write_with_digest_loses_no_update(client: Client, kind: str, where: str) -> None:
    first_read = asyncio.Barrier(CLIENTS)
    refused: list[str] = []

    async def append(i: int) -> int:
        """Add ``<i>;`` to the description, retrying on a digest mismatch; returns the attempts."""
        attempts = 0
        while True:
            attempts += 1
            config = await client.ok("GET", f"{where}/config")
            if attempts == 1:
                await first_read.wait()  # every client holds the same digest: all but one must be refused
            text = str(config.get("description", "")) + f"{i};"
            answer = await client.call("PUT", f"{where}/config", {"description": text, "digest": config["digest"]})
            if answer.status == 200:
                return attempts
            assert answer.status == 500, answer.body
            refused.append(answer.message)

    attempts = await asyncio.gather(*(append(i) for i in range(CLIENTS)))
    assert set(refused) == {MISMATCH[kind]}
    assert sum(attempts) == CLIENTS + len(refused) and len(refused) >= CLIENTS - 1
    final = str((await client.ok("GET", f"{where}/config"))["description"])
    written = final.rstrip(";").split(";")
    assert sorted(map(int, written)) == list(range(CLIENTS))  # each accepted update exactly once, none lost


async def test_stale_digest_is_refused_and_changes_nothing(mock: PVEMock, client: Client) -> None:
    config = await client.ok("GET", "/nodes/pve2/qemu/101/config")
    await client.ok("PUT", "/nodes/pve2/qemu/101/config", {"description": "newer"})
    before = mock.control.dump()
    stale = await asyncio.gather(*(client.call("PUT", "/nodes/pve2/qemu/101/config",
                                               {"scsi1": "local-lvm:2", "net1": "virtio,bridge=vmbr0",
                                                "digest": config["digest"]}) for _ in range(CLIENTS)))
    assert {(a.status, a.message) for a in stale} == {(500, MISMATCH["qemu"])}
    assert mock.control.dump() == before  # no disk allocated, no MAC handed out


async def test_overlapping_resizes_add_up(client: Client) -> None:
    where = "/nodes/pve2/qemu/101"
    upids = await asyncio.gather(*(client.ok("PUT", f"{where}/resize", {"disk": "scsi0", "size": "+1G"})
                                   for _ in range(CLIENTS)))  # all running at once (polls:3)
    await client.ok("PUT", f"{where}/config", {"scsi0": "local-lvm:vm-101-disk-0,size=64G,ssd=1"})
    statuses = await asyncio.gather(*(client.wait_task(u) for u in upids))
    assert {s["exitstatus"] for s in statuses} == {"OK"}
    size = (64 + CLIENTS) * GiB
    content = await client.ok("GET", "/nodes/pve2/storage/local-lvm/content")
    assert [v["size"] for v in content if v["volid"] == "local-lvm:vm-101-disk-0"] == [size]
    config = await client.ok("GET", f"{where}/config")
    assert config["scsi0"] == f"local-lvm:vm-101-disk-0,size={64 + CLIENTS}G,ssd=1"  # the option set meanwhile stays
