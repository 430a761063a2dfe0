"""Mock benchmarks: create-VM throughput with few and with many VMs, and memory per VM and per task.

``python -m bench.mock`` prints the figures; ``bench/run.py`` calls :func:`run`. Throughput: wrk (one
thread, 32 connections) POSTs ``/nodes/pve1/qemu`` with a unique vmid per request to a mock served by
``python -m bench.mock serve``, logged in as root, pre-populated with 10 or 5,000 VMs through the backend.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from bench.benchkit import FAKEPVE_CREATE_RPS

ROOT = Path(__file__).resolve().parents[1]
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "32"))
DURATION = os.environ.get("BENCH_MOCK_DURATION", "3s")
FAKEPVE_RPS = FAKEPVE_CREATE_RPS
TARGET_RPS = 20 * FAKEPVE_RPS
BODY = "name=bench&memory=512&cores=1"

WRK_SCRIPT = """
local counter = 1000000
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Cookie"] = "PVEAuthCookie=" .. os.getenv("PVE_TICKET")
wrk.headers["CSRFPreventionToken"] = os.getenv("PVE_CSRF")
request = function()
  counter = counter + 1
  return wrk.format(nil, "/api2/json/nodes/pve1/qemu", nil, "vmid=" .. counter .. "&BODY")
end
""".replace("BODY", BODY)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def rss_kb() -> int:
    match = re.search(r"VmRSS:\s+(\d+) kB", Path("/proc/self/status").read_text())
    return int(match.group(1)) if match else 0


def populate(backend: Any, count: int, start: int = 10000) -> None:
    """``count`` stopped VMs spread over the nodes, straight into the state (no API round trips)."""
    from pvegateway.backends.mock.state import Guest

    nodes = sorted(backend.mock.cluster.nodes)
    guests = backend.mock.cluster.guests
    for i in range(count):
        vmid = start + i
        guests[vmid] = Guest(vmid, "qemu", nodes[i % len(nodes)],
                             {"name": f"pop{vmid}", "memory": "512", "cores": "1", "ostype": "l26"})


def serve(port: int, existing: int) -> None:
    """The mock on 127.0.0.1:``port`` over plain HTTP with ``existing`` VMs (3 seeded + the rest)."""
    from pvegateway.http import listen, server
    from pvegateway.testing import mock_gateway

    app = mock_gateway("9.2")
    populate(app.backend, max(0, existing - 3))
    sock = listen.bind("127.0.0.1", port)
    server.run_uvicorn(app, sock, None, None, "error")


def _post(url: str, data: dict[str, str], headers: dict[str, str] | None = None) -> dict[str, Any]:
    request = urllib.request.Request(url, data=urllib.parse.urlencode(data).encode(), headers=headers or {},
                                     method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:  # nosec B310 # the caller's loopback URL
        answer: dict[str, Any] = json.loads(response.read())
        return answer


def _login(port: int, deadline: float) -> dict[str, str]:
    while True:
        try:
            data = _post(f"http://127.0.0.1:{port}/api2/json/access/ticket",
                         {"username": "root@pam", "password": "pvegateway"})["data"]
            return {"PVE_TICKET": data["ticket"], "PVE_CSRF": data["CSRFPreventionToken"]}
        except OSError:
            if time.perf_counter() > deadline:
                raise
            time.sleep(0.02)


def throughput(existing: int) -> tuple[float, int, int]:
    """req/s, requests and non-2xx answers of wrk creating VMs against a mock with ``existing`` VMs."""
    port = free_port()
    with subprocess.Popen([sys.executable, "-m", "bench.mock", "serve", str(port), str(existing)], cwd=ROOT) as proc:
        try:
            env = {**os.environ, **_login(port, time.perf_counter() + 60)}
            with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
                script.write(WRK_SCRIPT)
            try:
                out = subprocess.run(  # nosec B607 # wrk from PATH: the benchmark's load tool (apt)
                    ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{DURATION}", "-s", script.name, f"http://127.0.0.1:{port}"],
                    capture_output=True, text=True, check=True, env=env,
                ).stdout
            finally:
                os.unlink(script.name)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return rps, total, int(bad.group(1)) if bad else 0


async def _asgi_post(app: Any, path: str, body: bytes, headers: list[tuple[bytes, bytes]]) -> int:
    status = 0
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"content-type", b"application/x-www-form-urlencoded"), *headers],
             "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 8006)}
    await app(scope, receive, send)
    return status


def memory(count: int = 5000, tasks: int = 3000) -> tuple[float, float]:
    """RSS growth in bytes per VM created through the API (in-process ASGI) and per task started."""
    from pvegateway.testing import mock_gateway

    app = mock_gateway("9.2")
    backend: Any = app.backend
    signer, now = backend.mock.signer, backend.mock.clock.now()
    headers = [(b"cookie", f"PVEAuthCookie={signer.ticket('root@pam', now)}".encode()),
               (b"csrfpreventiontoken", signer.csrf("root@pam", now).encode())]

    async def create(first: int) -> None:
        for vmid in range(first, first + count):
            status = await _asgi_post(app, "/api2/json/nodes/pve1/qemu", f"vmid={vmid}&{BODY}".encode(), headers)
            if status != 200:
                raise RuntimeError(f"create VM {vmid}: HTTP {status}")

    asyncio.run(create(500000))  # warm-up: caches, first allocations
    gc.collect()
    before = rss_kb()
    asyncio.run(create(600000))
    gc.collect()
    per_vm = (rss_kb() - before) * 1024 / count

    nodes = sorted(backend.mock.cluster.nodes)
    gc.collect()
    before = rss_kb()
    for i in range(tasks):  # the task log keeps 1000 per node: stay within it
        backend.mock.tasks.start(nodes[i % len(nodes)], "qmstart", str(700000 + i), "root@pam")
    gc.collect()
    per_task = (rss_kb() - before) * 1024 / tasks
    return per_vm, per_task


def run() -> list[str]:
    """The mock's figures as printable lines (for ``bench/run.py``)."""
    few = throughput(10)
    many = throughput(5000)
    per_vm, per_task = memory()
    lines = [f"mock: create VM (POST /nodes/pve1/qemu, wrk -c{CONNECTIONS} -d{DURATION}, unique vmids)"]
    for label, (rps, total, bad) in (("10 existing VMs", few), ("5,000 existing VMs", many)):
        note = f", {bad} non-2xx" if bad else ""
        lines.append(f"  {label:<20} {rps:8.0f} req/s  ({total} requests{note})  "
                     f"{rps / FAKEPVE_RPS:5.1f}x fakepve's {FAKEPVE_RPS:.0f} req/s")
    ratio = many[0] / few[0] if few[0] else float("nan")
    verdict = "met" if min(few[0], many[0]) >= TARGET_RPS else "NOT met"
    lines.append(f"  5,000 / 10 existing ratio {ratio:5.2f}   "
                 f"target >= {TARGET_RPS:.0f} req/s (20x fakepve): {verdict}")
    lines.append(f"  RSS growth: {per_vm / 1024:6.2f} KiB per VM (via the API), {per_task / 1024:6.2f} KiB per task")
    return lines


def main(argv: list[str]) -> int:
    if argv[:1] == ["serve"]:
        serve(int(argv[1]), int(argv[2]))
        return 0
    for line in run():
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
