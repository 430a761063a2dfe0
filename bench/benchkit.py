"""What the bench scripts share (they run with bench/ on sys.path): running and reading wrk, ports,
memory, recording results."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

LAST = Path(__file__).resolve().parent / "last.json"
FAKEPVE_CREATE_RPS = 168.0  # fakepve 0.5.0 creating VMs at 32 connections: the mock's target is 20x that


def latency_ms(out: str, label: str) -> float:
    """The ``label`` percentile (e.g. ``50%``) of wrk's ``--latency`` table, in milliseconds."""
    match = re.search(rf"{label}\s+([\d.]+)(us|ms|s)", out)
    if not match:
        return float("nan")
    value, unit = float(match.group(1)), match.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def rss_mb(pid: int) -> float:
    """Resident memory of process ``pid``, in MB (2**20 bytes)."""
    match = re.search(r"VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    return int(match.group(1)) / 1024 if match else float("nan")


def run_wrk(url: str, headers: dict[str, str], *, connections: int, duration: str, threads: int = 1,
            script: str | None = None, env: dict[str, str] | None = None) -> dict[str, Any]:
    """One wrk run: req/s, p50/p99 in ms, requests, and errors (non-2xx answers and socket errors: a
    side that answers 401 quickly is not faster)."""
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}", "--latency",
            *(arg for name, value in headers.items() for arg in ("-H", f"{name}: {value}")),
            *(["-s", script] if script else []), url]
    out = subprocess.run(argv, capture_output=True, text=True, check=True,
                         env=env or os.environ.copy(), timeout=120).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = (int(bad.group(1)) if bad else 0) + (sum(int(n) for n in sockets.groups()) if sockets else 0)
    return {"rps": rps, "p50_ms": latency_ms(out, "50%"), "p99_ms": latency_ms(out, "99%"),
            "requests": total, "errors": errors}


def record(key: str, summary: object) -> None:
    """Keep ``summary`` under ``key`` in bench/last.json (git-ignored), beside the other scripts' results."""
    with contextlib.suppress(OSError, ValueError):
        saved = json.loads(LAST.read_text()) if LAST.exists() else {}
        LAST.write_text(json.dumps({**saved, key: summary}, indent=2) + "\n")


def main_printing(run: Callable[[], list[str]]) -> int:
    """A wrk-driven script's main: its lines, or why it cannot run."""
    if shutil.which("wrk") is None:
        print("wrk is needed for the load (Debian: apt-get install wrk)", file=sys.stderr)
        return 2
    for line in run():
        print(line, flush=True)
    return 0
