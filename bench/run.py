"""`make bench`: the gateway and a bare Starlette reference, side by side in one run, as ratios.

This machine is shared and noisy, so absolute numbers move; runs alternate between the two servers and
each figure is a median. Load comes from wrk (C) so the client does not limit a Python server.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from benchkit import latency_ms

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "32"))
DURATION = os.environ.get("BENCH_DURATION", "4s")
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
PATHS = {
    "GET /version": "/api2/json/version",
    "GET /nodes/{node}/qemu/{vmid}/status/current": "/api2/json/nodes/pve1/qemu/100/status/current",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_ready(port: int, path: str, deadline: float) -> None:
    while time.perf_counter() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=1) as response:  # nosec B310 # loopback
                response.read()
                return
        except OSError:
            time.sleep(0.005)
    raise RuntimeError(f"server on port {port} did not answer {path}")


def rss_mb(pid: int) -> float:
    text = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmRSS:\s+(\d+) kB", text)
    return int(match.group(1)) / 1024 if match else float("nan")


@contextlib.contextmanager
def server(which: str) -> Iterator[tuple[int, subprocess.Popen[bytes], float]]:
    port = free_port()
    started = time.perf_counter()
    proc = subprocess.Popen([PY, "-m", "bench.serve", which, "--port", str(port)], cwd=ROOT)
    try:
        wait_ready(port, "/api2/json/version", started + 30)
        yield port, proc, time.perf_counter() - started
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def wrk(port: int, path: str) -> tuple[float, float, float]:
    out = subprocess.run(  # nosec B607 # wrk from PATH: the benchmark's load tool (apt)
        ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{DURATION}", "--latency", f"http://127.0.0.1:{port}{path}"],
        capture_output=True, text=True, check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    return rps, latency_ms(out, "50%"), latency_ms(out, "99%")


def prepare_gateway(port: int) -> None:
    body = b"vmid=100&name=bench&memory=2048&cores=2"
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api2/json/nodes/pve1/qemu", data=body, method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    with contextlib.suppress(OSError), urllib.request.urlopen(request, timeout=5) as response:  # nosec B310 # loopback
        response.read()


def record_answers() -> None:
    """The gateway's answers to the benchmarked paths, for the reference to send byte for byte."""
    with server("gateway") as (port, _proc, _startup):
        prepare_gateway(port)
        answers = {}
        for key, path in zip(("version", "status"), PATHS.values(), strict=True):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as resp:  # nosec B310 # loopback
                answers[key] = resp.read().decode()
    os.environ["BENCH_ANSWERS"] = json.dumps(answers)


def throughput() -> dict[str, dict[str, list[tuple[float, float, float]]]]:
    record_answers()
    results: dict[str, dict[str, list[tuple[float, float, float]]]] = {"gateway": {}, "reference": {}}
    for _ in range(ROUNDS):
        for which in ("reference", "gateway"):
            with server(which) as (port, _proc, _startup):
                if which == "gateway":
                    prepare_gateway(port)
                for label, path in PATHS.items():
                    wrk(port, path)  # warm-up
                    results[which].setdefault(label, []).append(wrk(port, path))
    return results


def startup() -> dict[str, tuple[float, float]]:
    figures: dict[str, tuple[float, float]] = {}
    for which in ("reference", "gateway"):
        times, rss = [], []
        for _ in range(ROUNDS):
            with server(which) as (_port, proc, elapsed):
                times.append(elapsed)
                rss.append(rss_mb(proc.pid))
        figures[which] = (statistics.median(times), statistics.median(rss))
    return figures


def openapi_ms() -> float:
    with server("gateway") as (port, _proc, _elapsed):
        samples = []
        for _ in range(20):
            start = time.perf_counter()
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/openapi.json", timeout=10) as resp:  # nosec B310 # loopback
                resp.read()
            samples.append((time.perf_counter() - start) * 1000)
        return statistics.median(samples)


def deferred() -> dict[str, float]:
    """bench/deferred.py in a fresh interpreter: the startup work the gateway defers, and its memory."""
    out = subprocess.run([PY, "-m", "bench.deferred"], cwd=ROOT, capture_output=True, text=True, check=True,
                         timeout=120).stdout
    figures: dict[str, float] = json.loads(out)
    return figures


def main() -> int:
    if shutil.which("wrk") is None:
        print("wrk is needed for the load (Debian: apt-get install wrk)", file=sys.stderr)
        return 2
    print(f"pvegateway bench: uvicorn httptools + uvloop, 1 worker, wrk -c{CONNECTIONS} -d{DURATION}, "
          f"{ROUNDS} rounds, medians")
    report: dict[str, object] = {}
    results = throughput()
    for label in PATHS:
        gw = statistics.median(r[0] for r in results["gateway"][label])
        ref = statistics.median(r[0] for r in results["reference"][label])
        p50 = statistics.median(r[1] for r in results["gateway"][label])
        p99 = statistics.median(r[2] for r in results["gateway"][label])
        print(f"  {label:<48} gateway {gw:8.0f} req/s  reference {ref:8.0f} req/s  ratio {gw / ref:5.2f}"
              f"  (gateway p50 {p50:.2f} ms, p99 {p99:.2f} ms)")
        report[label] = {"gateway_rps": gw, "reference_rps": ref, "ratio": gw / ref, "p50_ms": p50, "p99_ms": p99}
    figures = startup()
    for which, (elapsed, rss) in figures.items():
        print(f"  startup to first answer ({which:<9}) {elapsed:6.3f} s   RSS after startup {rss:6.1f} MB")
        report[f"startup_{which}"] = {"seconds": elapsed, "rss_mb": rss}
    ms = openapi_ms()
    print(f"  /openapi.json (cached)                      {ms:6.2f} ms")
    report["openapi_ms"] = ms
    work = deferred()
    print(f"  deferred at startup: all {work['operations']:.0f} validators {work['all_validators_s']:.3f} s, "
          f"/openapi.json build {work['openapi_build_s']:.3f} s ({work['openapi_bytes'] / 2**20:.1f} MiB); "
          f"schema load {work['schema_load_s']:.3f} s, {work['schema_rss_mb']:.1f} MB, "
          f"{work['long_lived_objects']:.0f} long-lived objects")
    report["deferred"] = work
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from bench import mock

    lines = mock.run()
    for line in lines:
        print(line)
    report["mock"] = lines
    Path(ROOT / "bench" / "last.json").write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
