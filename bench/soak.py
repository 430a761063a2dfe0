"""Soak benchmark: mixed traffic from many clients against ``pvegateway serve --mode mock``, bounded in time.

Why: unit tests show each behaviour once; a long run shows what only accumulates (memory that grows
with every request or task, a lock or task that never ends, an error that appears once in 10,000
interleavings). The mock runs in a subprocess as users run it (``--no-access-log``, tasks by
``polls:2`` so every create and delete is a task that overlaps others); 32 clients (one connection
each) read, create, update with ``digest``, delete and poll tasks. Each client owns its VMIDs, so what
it expects is exact; two kinds of contention are made on purpose and their refusals are expected:
every client updates guest 101 with a digest (PVE's ``checksum mismatch`` when another got there
first) and they race to create guest 999 (``already exists`` / ``locked`` for the losers).

Prints requests done, answers by status (expected / unexpected), the server's RSS at start, middle
and end and its growth per minute after warm-up; exits 1 on any unexpected answer or a dead server.

    python bench/soak.py                 # 300 s, 32 clients
    python bench/soak.py --seconds 60 --clients 64
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "soak-password"  # a throwaway mock's root password
SHARED_VMID = 999  # every client races to create (and then delete) this one
CONTESTED = 101  # every client updates this one's description with a digest
KEEP = 4  # guests a client holds at most: the cluster stays the same size, so memory should too
LISTENING = re.compile(r"listening on (https?://\S+?)/api2/json")

# refusals the traffic provokes on purpose: (status, message pattern)
EXPECTED = [
    (500, re.compile(r"checksum mismatch \(file change by other user\?\)\n")),
    # qemu-server Qemu.pm:1372-1375 prefixes pve-cluster Cluster.pm:796's text
    (500, re.compile(rf"unable to create VM {SHARED_VMID} - VM {SHARED_VMID} already exists on node 'pve\d'\n")),
    (500, re.compile(r"VM is locked \((create|destroyed)\)\n")),  # pve-guest-common AbstractConfig.pm:339
    (500, re.compile(rf"Configuration file 'nodes/pve\d/qemu-server/{SHARED_VMID}.conf' does not exist\n")),
]


@dataclass
class Tally:
    requests: int = 0
    expected: collections.Counter[str] = field(default_factory=collections.Counter)
    unexpected: collections.Counter[str] = field(default_factory=collections.Counter)
    ok: collections.Counter[int] = field(default_factory=collections.Counter)
    samples: list[str] = field(default_factory=list)
    tasks: collections.Counter[str] = field(default_factory=collections.Counter)

    def record(self, method: str, path: str, status: int, body: Any, allowed: bool) -> None:
        self.requests += 1
        if status == 200:
            self.ok[status] += 1
            return
        message = str(body.get("message", "")) if isinstance(body, dict) else str(body)
        key = f"{status} {re.sub(r'[0-9]+', 'N', message.strip())[:70]}"
        if allowed and any(status == s and pattern.fullmatch(message) for s, pattern in EXPECTED):
            self.expected[key] += 1
            return
        self.unexpected[key] += 1
        if len(self.samples) < 10:
            self.samples.append(f"{method} {path} -> {status} {json.dumps(body)[:300]}")


class Server:
    """``pvegateway serve --mode mock`` in a subprocess; its URL from the readiness line."""

    def __init__(self, state_dir: str) -> None:
        command = [sys.executable, "-m", "pvegateway.cli", "serve", "--mode", "mock", "--http", "--port", "0",
                   "--no-access-log", "--tasks", "polls:2", "--state-dir", state_dir,
                   "--root-password", PASSWORD]
        self.process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        for line in self.process.stdout:
            found = LISTENING.search(line)
            if found:
                self.url = found.group(1)
                return
        raise RuntimeError(f"the mock exited ({self.process.wait()}) before it listened")

    def rss(self) -> int:
        """Resident set size in bytes (Linux /proc)."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS")

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()


class Client:
    def __init__(self, index: int, session: aiohttp.ClientSession, api: str, headers: dict[str, str],
                 tally: Tally) -> None:
        self.index = index
        self.session = session
        self.api = api
        self.headers = headers
        self.tally = tally
        self.node = f"pve{index % 3 + 1}"
        self.next_vmid = 10_000 + index * 1_000_000
        self.guests: list[int] = []
        self.random = random.Random(index)  # the traffic mix, reproducible per client

    async def call(self, method: str, path: str, data: dict[str, Any] | None = None,
                   allowed: bool = False) -> tuple[int, Any]:
        kwargs: dict[str, Any] = {"params": data} if method in ("GET", "DELETE") else {"data": data}
        async with self.session.request(method, self.api + path, headers=self.headers, **kwargs) as response:
            body = await response.json(content_type=None)
        self.tally.record(method, path, response.status, body, allowed)
        return response.status, body.get("data") if isinstance(body, dict) else None

    async def wait(self, upid: str) -> None:
        node = upid.split(":")[1]
        while True:
            status, data = await self.call("GET", f"/nodes/{node}/tasks/{upid}/status")
            if status != 200 or data["status"] == "stopped":
                if status == 200:
                    self.tally.tasks[str(data["exitstatus"])] += 1
                return

    async def read(self) -> None:
        path = self.random.choice(["/version", "/cluster/resources", "/nodes", f"/nodes/{self.node}/qemu",
                                   f"/nodes/{self.node}/storage/local-lvm/content", "/cluster/nextid"])
        await self.call("GET", path)

    async def create(self) -> None:
        vmid = self.next_vmid
        self.next_vmid += 1
        status, upid = await self.call("POST", f"/nodes/{self.node}/qemu", {
            "vmid": vmid, "name": f"soak{vmid}", "memory": 512, "cores": 1, "scsi0": "local-lvm:1",
            "net0": "virtio,bridge=vmbr0"})
        if status == 200:
            await self.wait(upid)
            self.guests.append(vmid)

    async def update(self) -> None:
        if not self.guests:
            return await self.create()
        vmid = self.random.choice(self.guests)
        where = f"/nodes/{self.node}/qemu/{vmid}/config"
        status, config = await self.call("GET", where)
        if status == 200:
            await self.call("PUT", where, {"description": f"{time.time()}", "cores": self.random.randint(1, 4),
                                           "digest": config["digest"]})

    async def contested_update(self) -> None:
        where = f"/nodes/pve2/qemu/{CONTESTED}/config"
        status, config = await self.call("GET", where)
        if status == 200:
            await self.call("PUT", where, {"description": f"client {self.index}", "digest": config["digest"]},
                            allowed=True)

    async def contested_create(self) -> None:
        status, upid = await self.call("POST", "/nodes/pve1/qemu", {"vmid": SHARED_VMID, "scsi0": "local-lvm:1"},
                                       allowed=True)
        if status == 200:  # the winner finishes it and removes it again; the others were refused
            await self.wait(upid)
            status, upid = await self.call("DELETE", f"/nodes/pve1/qemu/{SHARED_VMID}", allowed=True)
            if status == 200:
                await self.wait(upid)

    async def delete(self) -> None:
        if not self.guests:
            return
        vmid = self.guests.pop(0)
        status, upid = await self.call("DELETE", f"/nodes/{self.node}/qemu/{vmid}")
        if status == 200:
            await self.wait(upid)

    async def tasks(self) -> None:
        status, listed = await self.call("GET", f"/nodes/{self.node}/tasks", {"limit": 10})
        if status == 200 and listed:
            upid = listed[0]["upid"]
            await self.call("GET", f"/nodes/{self.node}/tasks/{upid}/log", {"limit": 20})

    async def run(self, deadline: float) -> None:
        steps = [(self.read, 40), (self.create, 12), (self.update, 15), (self.contested_update, 8),
                 (self.contested_create, 3), (self.delete, 12), (self.tasks, 10)]
        actions, weights = zip(*steps, strict=True)
        while time.monotonic() < deadline:
            action = self.random.choices(actions, weights)[0]
            if len(self.guests) >= KEEP:
                action = self.delete
            await action()
        while self.guests:  # leave the cluster as it was found: what is left over is a leak
            await self.delete()


async def login(session: aiohttp.ClientSession, api: str) -> dict[str, str]:
    async with session.post(f"{api}/access/ticket", data={"username": "root@pam", "password": PASSWORD}) as answer:
        answer.raise_for_status()
        data = (await answer.json())["data"]
    return {"Cookie": f"PVEAuthCookie={data['ticket']}", "CSRFPreventionToken": data["CSRFPreventionToken"]}


async def soak(server: Server, seconds: float, clients: int, tally: Tally) -> list[tuple[float, int]]:
    api = server.url + "/api2/json"
    rss: list[tuple[float, int]] = [(0.0, server.rss())]
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:
        headers = await login(session, api)
        start = time.monotonic()
        deadline = start + seconds
        workers = [asyncio.create_task(Client(i, session, api, headers, tally).run(deadline))
                   for i in range(clients)]
        while not all(w.done() for w in workers):
            await asyncio.wait(workers, timeout=min(5.0, max(seconds / 20, 0.5)))
            if not server.alive():
                raise RuntimeError("the mock died")
            rss.append((time.monotonic() - start, server.rss()))
        for worker in workers:
            worker.result()  # a client's exception (connection reset, timeout) is an unexpected error
        _, resources = await Client(0, session, api, headers, tally).call("GET", "/cluster/resources", {"type": "vm"})
        left = sorted(g["vmid"] for g in resources or [])
        if left != [100, 101, 200]:
            tally.unexpected[f"guests left over: {left[:10]}"] += 1
        locked = [g["vmid"] for g in resources or [] if g.get("lock")]
        if locked:
            tally.unexpected[f"locks never cleared: {locked[:10]}"] += 1
    return rss


def report(seconds: float, elapsed: float, tally: Tally, rss: list[tuple[float, int]]) -> dict[str, Any]:
    def mib(value: int) -> float:
        return round(value / 1024**2, 1)

    warm = next((sample for sample in rss if sample[0] >= 0.2 * elapsed), rss[-1])  # after 20 %: caches are full
    middle = min(rss, key=lambda sample: abs(sample[0] - elapsed / 2))
    end = rss[-1]
    minutes = max(end[0] - warm[0], 1e-9) / 60
    return {
        "seconds": seconds, "elapsed": round(elapsed, 1), "requests": tally.requests,
        "requests_per_second": round(tally.requests / elapsed, 1), "ok": sum(tally.ok.values()),
        "expected_errors": dict(tally.expected), "unexpected_errors": dict(tally.unexpected),
        "tasks": dict(tally.tasks),
        "rss_mib": {"start": mib(rss[0][1]), "warm": mib(warm[1]), "middle": mib(middle[1]), "end": mib(end[1]),
                    "peak": mib(max(v for _, v in rss))},
        "rss_growth_kib_per_minute_after_warmup": round((end[1] - warm[1]) / 1024 / minutes, 1),
        "unexpected_samples": tally.samples,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=300.0, help="how long the traffic runs (default 300)")
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients (default 32)")
    args = parser.parse_args(argv)
    tally = Tally()
    with tempfile.TemporaryDirectory(prefix="pvegw-soak-") as state_dir:
        server = Server(state_dir)
        try:
            started = time.monotonic()
            rss = asyncio.run(soak(server, args.seconds, args.clients, tally))
            elapsed = time.monotonic() - started
        except (TimeoutError, aiohttp.ClientError, RuntimeError, OSError) as err:
            print(json.dumps({"failed": f"{type(err).__name__}: {err}", "requests": tally.requests,
                              "unexpected_errors": dict(tally.unexpected)}, indent=1))
            return 1
        finally:
            server.stop()
    figures = report(args.seconds, elapsed, tally, rss)
    print(json.dumps(figures, indent=1))
    return 1 if tally.unexpected else 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
