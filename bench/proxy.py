"""Proxy mode's cost: the mock over HTTPS as the upstream, and the gateway in proxy mode in front of it.

Both started from the command line as deployed (``pvegateway serve``, TLS, the default access log on
stdout, a pipe the bench drains). All servers stay up for the whole run and wrk alternates between
them (direct, proxy, aiohttp, direct, ...) so that they share the machine's noise; each figure is a
median. All sides are TLS from wrk: direct is wrk -> mock, through is wrk -> gateway -> mock (the
gateway pins the mock's certificate), and the reference is wrk -> a minimal aiohttp pass-through proxy
(``bench/aioproxy.py``, pinned the same way) -> mock: the figure that justified ``proxy/http1.py``
over an aiohttp client, kept checkable. One login gives a ticket that every side accepts, since the
proxies pass the caller's cookie through.

``python bench/proxy.py`` (``make bench`` runs it after ``bench/run.py``) prints the figures and adds
them to ``bench/last.json`` under ``"proxy"``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from benchkit import free_port, main_printing, record, run_wrk

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
CLI = str(Path(PY).with_name("pvegateway"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "32"))
DURATION = os.environ.get("BENCH_PROXY_DURATION", "3s")
LATENCY_DURATION = os.environ.get("BENCH_PROXY_LATENCY_DURATION", "2s")
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
PASSWORD = "pvegateway"  # handed to the mock through PVEGATEWAY_ROOT_PASSWORD: argv is visible
TARGET_RATIO = 0.70
TARGET_OVERHEAD_MS = 1.0
PATHS = {
    "GET /version": "/api2/json/version",
    "GET /nodes/{node}/status": "/api2/json/nodes/pve1/status",
}


@dataclass(frozen=True)
class Figures:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int  # non-2xx answers and socket errors: a side that answers 401 quickly is not faster
    # CPU time per request of each server process: other load on the machine moves it far less than req/s
    mock_cpu_us: float = float("nan")
    gateway_cpu_us: float = float("nan")


def _insecure() -> ssl.SSLContext:
    """Self-signed certificates on 127.0.0.1: this client only sets the stage, wrk does the measuring."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _announced(proc: subprocess.Popen[str], pattern: str, deadline: float) -> re.Match[str]:
    """The server's startup line matching ``pattern``: ``serve`` prints it once its socket is bound, so
    connections made after it are accepted (they wait in the backlog until uvicorn runs)."""
    assert proc.stdout is not None
    seen = []
    while time.perf_counter() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        match = re.search(pattern, line)
        if match:
            return match
    raise RuntimeError(f"server did not announce itself ({pattern!r}); it printed: {''.join(seen)!r}")


def _drain(proc: subprocess.Popen[str]) -> None:
    """Read the rest of the server's stdout (its access log) as a container runtime would."""
    assert proc.stdout is not None
    threading.Thread(target=proc.stdout.read, daemon=True).start()


@contextlib.contextmanager
def process(argv: list[str], env: dict[str, str] | None = None) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, text=True,
                            env={**(env or os.environ), "PYTHONUNBUFFERED": "1"})
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # a TLS close waiting on a peer: the figures are taken already
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


@contextlib.contextmanager
def mock(state_dir: Path) -> Iterator[tuple[str, str, int]]:
    """The mock over HTTPS: its URL, its certificate's SHA-256 fingerprint and its process id."""
    port = free_port()
    env = {**os.environ, "PVEGATEWAY_ROOT_PASSWORD": PASSWORD}
    argv = [CLI, "serve", "--mode", "mock", "--port", str(port), "--state-dir", str(state_dir)]
    with process(argv, env) as proc:
        match = _announced(proc, r"fingerprint ([0-9A-F:]{95})", time.perf_counter() + 60)
        _drain(proc)
        yield f"https://127.0.0.1:{port}", match.group(1), proc.pid


@contextlib.contextmanager
def proxy(upstream: str, fingerprint: str, state_dir: Path) -> Iterator[tuple[str, int]]:
    """The gateway in proxy mode over HTTPS (its own self-signed certificate) in front of ``upstream``:
    its URL and process id."""
    port = free_port()
    argv = [CLI, "serve", "--mode", "proxy", "--upstream", upstream, "--fingerprint", fingerprint,
            "--port", str(port), "--state-dir", str(state_dir)]
    with process(argv) as proc:
        _announced(proc, r"listening on https://", time.perf_counter() + 60)
        _drain(proc)
        yield f"https://127.0.0.1:{port}", proc.pid


@contextlib.contextmanager
def aiohttp_proxy(upstream: str, fingerprint: str, state_dir: Path) -> Iterator[tuple[str, int]]:
    """The minimal aiohttp pass-through proxy, over HTTPS with the gateway's certificate: URL, process id."""
    port = free_port()
    cert, key = state_dir / "pvegateway.pem", state_dir / "pvegateway.key"
    argv = [PY, str(ROOT / "bench" / "aioproxy.py"), "--port", str(port), "--upstream", upstream,
            "--fingerprint", fingerprint, "--tls", str(cert), str(key)]
    with process(argv) as proc:
        base = f"https://127.0.0.1:{port}"
        deadline = time.perf_counter() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api2/json/version", timeout=5,  # nosec B310 # loopback
                                            context=_insecure()):
                    break
            except urllib.error.HTTPError:
                break  # answered (the mock's 401 through it): up
            except OSError:
                if time.perf_counter() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.05)
        _drain(proc)
        yield base, proc.pid


def login(base: str) -> str:
    body = urllib.parse.urlencode({"username": "root@pam", "password": PASSWORD}).encode()
    request = urllib.request.Request(f"{base}/api2/json/access/ticket", data=body, method="POST")
    with urllib.request.urlopen(request, timeout=30, context=_insecure()) as response:  # nosec B310 # a loopback https URL
        ticket: str = json.loads(response.read())["data"]["ticket"]
        return ticket


def check(base: str, path: str, cookie: str) -> None:
    """An answer of 200 with data: a side answering 401 or 502 fast would look good in req/s."""
    request = urllib.request.Request(f"{base}{path}", headers={"Cookie": cookie})
    with urllib.request.urlopen(request, timeout=30, context=_insecure()) as response:  # nosec B310 # a loopback https URL
        if response.status != 200 or not json.loads(response.read()).get("data"):
            raise RuntimeError(f"{base}{path}: HTTP {response.status} without data")


def wrk(base: str, path: str, cookie: str, *, threads: int, connections: int, duration: str) -> Figures:
    got = run_wrk(f"{base}{path}", {"Cookie": cookie}, threads=threads, connections=connections, duration=duration)
    return Figures(got["rps"], got["p50_ms"], got["p99_ms"], got["requests"], got["errors"])


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def loaded(base: str, path: str, cookie: str, pids: dict[str, int]) -> Figures:
    """wrk at ``CONNECTIONS``, with the CPU time each server spent per request meanwhile."""
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    figures = wrk(base, path, cookie, threads=2, connections=CONNECTIONS, duration=DURATION)
    per_request = {name: (cpu_seconds(pid) - before[name]) * 1e6 / max(figures.requests, 1)
                   for name, pid in pids.items()}
    return replace(figures, mock_cpu_us=per_request["mock"], gateway_cpu_us=per_request["gateway"])


def measure(sides: dict[str, str], cookie: str,
            pids: dict[str, dict[str, int]]) -> dict[str, dict[str, dict[str, list[Figures]]]]:
    """``{"load"|"latency": {label: {side: [round figures]}}}``, sides alternating within each round;
    ``pids``: each side's processes whose CPU time is taken ("mock", and "gateway": its proxy)."""
    results: dict[str, dict[str, dict[str, list[Figures]]]] = {"load": {}, "latency": {}}
    for label, path in PATHS.items():
        for base in sides.values():  # warm-up: upstream connections, caches
            wrk(base, path, cookie, threads=2, connections=CONNECTIONS, duration="1s")
        for _ in range(ROUNDS):
            for side, base in sides.items():
                figures = loaded(base, path, cookie, pids[side])
                results["load"].setdefault(label, {}).setdefault(side, []).append(figures)
            for side, base in sides.items():
                figures = wrk(base, path, cookie, threads=1, connections=1, duration=LATENCY_DURATION)
                results["latency"].setdefault(label, {}).setdefault(side, []).append(figures)
    return results


def _median(figures: list[Figures], attr: str) -> float:
    return float(statistics.median(getattr(f, attr) for f in figures))


def report(results: dict[str, dict[str, dict[str, list[Figures]]]]) -> tuple[list[str], dict[str, object]]:
    lines: list[str] = []
    summary: dict[str, object] = {}
    worst_ratio, worst_overhead = float("inf"), float("-inf")
    for label in PATHS:
        load, lat = results["load"][label], results["latency"][label]
        direct, through = _median(load["direct"], "rps"), _median(load["proxy"], "rps")
        ratio = through / direct
        d50, t50 = _median(lat["direct"], "p50_ms"), _median(lat["proxy"], "p50_ms")
        d99, t99 = _median(lat["direct"], "p99_ms"), _median(lat["proxy"], "p99_ms")
        errors = sum(f.errors for side in (load, lat) for runs in side.values() for f in runs)
        worst_ratio, worst_overhead = min(worst_ratio, ratio), max(worst_overhead, t50 - d50)
        note = f"  {errors} ERRORS (non-2xx or socket)" if errors else ""
        lines.append(f"  {label:<26} direct {direct:7.0f} req/s  proxy {through:7.0f} req/s  ratio {ratio:5.2f}{note}")
        lines.append(f"  {'':<26} c1 p50 {d50:5.2f} -> {t50:5.2f} ms (+{t50 - d50:4.2f})   "
                     f"p99 {d99:5.2f} -> {t99:5.2f} ms")
        mock_direct, mock_through = _median(load["direct"], "mock_cpu_us"), _median(load["proxy"], "mock_cpu_us")
        gateway_cpu = _median(load["proxy"], "gateway_cpu_us")
        lines.append(f"  {'':<26} CPU per request: mock {mock_direct:4.0f} us direct;  "
                     f"mock {mock_through:4.0f} + gateway {gateway_cpu:4.0f} us through")
        aio, aio_cpu = _median(load["aiohttp"], "rps"), _median(load["aiohttp"], "gateway_cpu_us")
        a50 = _median(lat["aiohttp"], "p50_ms")
        lines.append(f"  {'':<26} aiohttp pass-through reference: {aio:7.0f} req/s  ratio {aio / direct:5.2f}  "
                     f"c1 p50 {a50:5.2f} ms  CPU per request {aio_cpu:4.0f} us")
        summary[label] = {"direct_rps": direct, "proxy_rps": through, "ratio": ratio, "direct_p50_ms": d50,
                          "proxy_p50_ms": t50, "direct_p99_ms": d99, "proxy_p99_ms": t99, "errors": errors,
                          "mock_cpu_us_direct": mock_direct, "mock_cpu_us_through": mock_through,
                          "gateway_cpu_us": gateway_cpu, "aiohttp_rps": aio, "aiohttp_ratio": aio / direct,
                          "aiohttp_p50_ms": a50, "aiohttp_cpu_us": aio_cpu}
    ratio_ok = "met" if worst_ratio >= TARGET_RATIO else "NOT met"
    overhead_ok = "met" if worst_overhead < TARGET_OVERHEAD_MS else "NOT met"
    lines.append(f"  targets: proxy/direct req/s >= {TARGET_RATIO:.2f}: {ratio_ok} (worst {worst_ratio:.2f});  "
                 f"p50 overhead < {TARGET_OVERHEAD_MS:.0f} ms: {overhead_ok} (worst {worst_overhead:+.2f} ms)")
    return lines, summary


def run() -> list[str]:
    with tempfile.TemporaryDirectory(prefix="pvegateway-bench-") as tmp:
        mock_dir, proxy_dir = Path(tmp, "mock"), Path(tmp, "proxy")
        with mock(mock_dir) as (upstream, fingerprint, mock_pid), \
                proxy(upstream, fingerprint, proxy_dir) as (gateway, gateway_pid), \
                aiohttp_proxy(upstream, fingerprint, proxy_dir) as (reference, reference_pid):
            cookie = f"PVEAuthCookie={urllib.parse.quote(login(upstream), safe='')}"
            for path in PATHS.values():
                for base in (upstream, gateway, reference):
                    check(base, path, cookie)
            load_before = os.getloadavg()[0]
            results = measure({"direct": upstream, "proxy": gateway, "aiohttp": reference}, cookie, {
                "direct": {"mock": mock_pid, "gateway": gateway_pid},
                "proxy": {"mock": mock_pid, "gateway": gateway_pid},
                "aiohttp": {"mock": mock_pid, "gateway": reference_pid},
            })
    lines, summary = report(results)
    header = (f"proxy mode over TLS, as deployed (serve, access logs on): wrk -> mock vs wrk -> gateway -> mock "
              f"vs wrk -> aiohttp -> mock, pinned: "
              f"wrk -t2 -c{CONNECTIONS} -d{DURATION} and -t1 -c1 -d{LATENCY_DURATION}, {ROUNDS} rounds, medians; "
              f"{os.cpu_count()} CPUs, load average {load_before:.1f} before")
    record("proxy", summary)
    return [header, *lines]


if __name__ == "__main__":
    sys.exit(main_printing(run))
