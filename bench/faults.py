"""Does a fault slow down everyone else? Healthy requests through the proxy with and without a stall.

The upstream is the mock over HTTPS, started with ``--auth-delay`` far above the gateway's read timeout:
a request without credentials then hangs at the node (as on a stuck pveproxy worker) until the gateway
gives up on it. The fault is ``STALLED`` such requests kept in flight all the time (each ends in a 504
after ``READ_TIMEOUT`` s and is sent again at once); the healthy load is wrk on GET /version
with a valid ticket, through the same gateway to the same node. Rounds alternate between no fault and
fault so both share the machine's noise; each figure is a median, and the ratio fault/no-fault is the
result (1.0: the stalls cost the others nothing). The gateway's open file descriptors are read before,
during and after the fault: every stalled connection must be given back.

``python bench/faults.py`` (``make bench`` may run it after ``bench/proxy.py``) prints the figures and
adds them to ``bench/last.json`` under ``"faults (read timeout N s)"``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import aiohttp
from benchkit import main_printing, record
from proxy import (
    CLI,
    PASSWORD,
    Figures,
    _announced,
    _insecure,
    check,
    cpu_seconds,
    free_port,
    login,
    process,
    wrk,
)

CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "32"))
DURATION = os.environ.get("BENCH_FAULTS_DURATION", "3s")
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
STALLED = int(os.environ.get("BENCH_FAULTS_STALLED", "64"))
# the gateway's read timeout: 2 s makes the stalls churn (time out, 504, sent again); set it above the
# run's length (BENCH_FAULTS_READ_TIMEOUT=60) to hold them all pending instead: a slow node, no churn
READ_TIMEOUT = float(os.environ.get("BENCH_FAULTS_READ_TIMEOUT", "2"))
STALLING = "/api2/json/nodes"
AUTH_DELAY = 3600.0
HEALTHY = "/api2/json/version"
TARGET_RATIO = 0.90


@contextlib.contextmanager
def stalling_mock(state_dir: Path) -> Iterator[tuple[str, str, int]]:
    """The mock over HTTPS, holding every request without credentials for an hour: URL, fingerprint, pid."""
    port = free_port()
    env = {**os.environ, "PVEGATEWAY_ROOT_PASSWORD": PASSWORD}
    argv = [CLI, "serve", "--mode", "mock", "--port", str(port), "--state-dir", str(state_dir),
            "--no-access-log", "--auth-delay", str(AUTH_DELAY)]
    with process(argv, env) as proc:
        match = _announced(proc, r"fingerprint ([0-9A-F:]{95})", time.perf_counter() + 60)
        yield f"https://127.0.0.1:{port}", match.group(1), proc.pid


@contextlib.contextmanager
def gateway(upstream: str, fingerprint: str, state_dir: Path) -> Iterator[tuple[str, int]]:
    port = free_port()
    argv = [CLI, "serve", "--mode", "proxy", "--upstream", upstream, "--fingerprint", fingerprint,
            "--read-timeout", str(READ_TIMEOUT), "--port", str(port), "--state-dir", str(state_dir),
            "--no-access-log"]
    with process(argv) as proc:
        _announced(proc, r"listening on https://", time.perf_counter() + 60)
        yield f"https://127.0.0.1:{port}", proc.pid


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


@dataclass
class Fault:
    """``STALLED`` stalling requests in flight at all times, from a thread of its own, until stopped."""

    base: str
    statuses: dict[int, int] = field(default_factory=dict)
    in_flight: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _ready: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> Fault:
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError("the stalled requests did not start")
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join()

    async def _run(self) -> None:
        connector = aiohttp.TCPConnector(ssl=_insecure(), limit=0, force_close=True)
        timeout = aiohttp.ClientTimeout(total=READ_TIMEOUT * 10)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

            async def one(index: int) -> None:
                # spread out: started together, the stalls would all time out together, and the burst of
                # 504s and new TLS connections that follows would be what the healthy requests measure
                await asyncio.sleep(index * READ_TIMEOUT / STALLED)
                while not self._stop.is_set():
                    self.in_flight += 1
                    if self.in_flight >= STALLED:
                        self._ready.set()
                    try:
                        async with session.get(self.base + STALLING) as resp:
                            await resp.read()
                            self.statuses[resp.status] = self.statuses.get(resp.status, 0) + 1
                    finally:
                        self.in_flight -= 1

            await asyncio.gather(*(one(i) for i in range(STALLED)))


def loaded(base: str, cookie: str, pids: dict[str, int]) -> Figures:
    """wrk on the healthy path, with the CPU time each server spent per healthy request meanwhile."""
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    figures = wrk(base, HEALTHY, cookie, threads=2, connections=CONNECTIONS, duration=DURATION)
    spent = {name: (cpu_seconds(pid) - before[name]) * 1e6 / max(figures.requests, 1) for name, pid in pids.items()}
    return replace(figures, mock_cpu_us=spent["mock"], gateway_cpu_us=spent["gateway"])


def measure(base: str, cookie: str, pids: dict[str, int]) -> tuple[dict[str, list[Figures]], dict[str, object]]:
    pid = pids["gateway"]
    runs: dict[str, list[Figures]] = {"no fault": [], "fault": []}
    fds = {"before": open_fds(pid)}
    statuses: dict[int, int] = {}
    wrk(base, HEALTHY, cookie, threads=2, connections=CONNECTIONS, duration="1s")  # warm-up
    for _ in range(ROUNDS):
        runs["no fault"].append(loaded(base, cookie, pids))
        with Fault(base) as fault:
            time.sleep(min(READ_TIMEOUT, 2.0))  # the first stalls time out: the fault's steady state
            runs["fault"].append(loaded(base, cookie, pids))
            fds["during"] = max(fds.get("during", 0), open_fds(pid))
        for status, count in fault.statuses.items():
            statuses[status] = statuses.get(status, 0) + count
    # the last stalled requests time out READ_TIMEOUT after the fault stopped sending more
    deadline = time.monotonic() + READ_TIMEOUT * 5
    while open_fds(pid) > fds["before"] and time.monotonic() < deadline:
        time.sleep(0.05)
    fds["after"] = open_fds(pid)
    return runs, {"fds": fds, "stalled_statuses": statuses}


def report(runs: dict[str, list[Figures]], extra: dict[str, object]) -> tuple[list[str], dict[str, object]]:
    def median(side: str, attr: str) -> float:
        return float(statistics.median(getattr(f, attr) for f in runs[side]))

    calm, faulty = median("no fault", "rps"), median("fault", "rps")
    ratio = faulty / calm
    errors = sum(f.errors for side in runs.values() for f in side)
    summary: dict[str, object] = {
        "no_fault_rps": calm, "fault_rps": faulty, "ratio": ratio,
        "no_fault_p50_ms": median("no fault", "p50_ms"), "fault_p50_ms": median("fault", "p50_ms"),
        "no_fault_p99_ms": median("no fault", "p99_ms"), "fault_p99_ms": median("fault", "p99_ms"),
        "no_fault_cpu_us": {"gateway": median("no fault", "gateway_cpu_us"), "mock": median("no fault", "mock_cpu_us")},
        "fault_cpu_us": {"gateway": median("fault", "gateway_cpu_us"), "mock": median("fault", "mock_cpu_us")},
        "healthy_errors": errors, **extra,
    }
    note = f"  {errors} ERRORS on healthy requests" if errors else ""
    lines = [
        f"  GET /version  no fault {calm:7.0f} req/s  fault {faulty:7.0f} req/s  ratio {ratio:5.2f}{note}",
        f"  {'':<13} p50 {summary['no_fault_p50_ms']:6.2f} -> {summary['fault_p50_ms']:6.2f} ms   "
        f"p99 {summary['no_fault_p99_ms']:6.2f} -> {summary['fault_p99_ms']:6.2f} ms",
        f"  CPU per healthy request (stall handling included): gateway "
        f"{median('no fault', 'gateway_cpu_us'):4.0f} -> {median('fault', 'gateway_cpu_us'):4.0f} us, mock "
        f"{median('no fault', 'mock_cpu_us'):4.0f} -> {median('fault', 'mock_cpu_us'):4.0f} us",
        f"  stalled requests answered: {extra['stalled_statuses']};  gateway fds {extra['fds']}",
        f"  target: fault/no-fault req/s >= {TARGET_RATIO:.2f}: {'met' if ratio >= TARGET_RATIO else 'NOT met'}",
    ]
    return lines, summary


def run() -> list[str]:
    with tempfile.TemporaryDirectory(prefix="pvegateway-bench-") as tmp, \
            stalling_mock(Path(tmp, "mock")) as (upstream, fingerprint, mock_pid), \
            gateway(upstream, fingerprint, Path(tmp, "gateway")) as (base, pid):
        cookie = f"PVEAuthCookie={urllib.parse.quote(login(upstream), safe='')}"
        check(base, HEALTHY, cookie)
        load_before = os.getloadavg()[0]
        runs, extra = measure(base, cookie, {"gateway": pid, "mock": mock_pid})
    lines, summary = report(runs, extra)
    header = (f"a fault beside healthy load (wrk -> gateway -> mock over TLS; the fault: {STALLED} GET {STALLING} "
              f"stalled at the node, each cut by the gateway's {READ_TIMEOUT:.0f} s read timeout): wrk -t2 "
              f"-c{CONNECTIONS} -d{DURATION}, {ROUNDS} rounds, medians; {os.cpu_count()} CPUs, "
              f"load average {load_before:.1f} before")
    record(f"faults (read timeout {READ_TIMEOUT:g} s)", summary)
    return [header, *lines]


if __name__ == "__main__":
    sys.exit(main_printing(run))
