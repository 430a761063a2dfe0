"""`make bench`: the product as users run it (``bench/served.py``: ``pvegateway serve`` beside a bare
Starlette app), then what startup defers, the mock's writes as guests accumulate and its memory.

This machine is shared and noisy, so absolute numbers move: servers alternate within rounds, figures
are medians with their ranges, and ratios are taken within a round. Load comes from wrk (C) so the
client does not limit a Python server.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchkit import main_printing, record

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable


def openapi_ms() -> float:
    """``GET /openapi.json`` once built and cached (its first request builds it)."""
    import served

    with tempfile.TemporaryDirectory(prefix="pvegateway-bench-") as tmp, \
            served.gateway("gateway", Path(tmp), tls=False, seed=None) as server:
        samples = []
        for _ in range(20):
            start = time.perf_counter()
            status, _body = server.request("GET", "/openapi.json")
            assert status == 200
            samples.append((time.perf_counter() - start) * 1000)
        return statistics.median(samples[1:])


def deferred() -> dict[str, float]:
    """bench/deferred.py in a fresh interpreter: the startup work the gateway defers, and its memory."""
    out = subprocess.run([PY, "-m", "bench.deferred"], cwd=ROOT, capture_output=True, text=True, check=True,
                         timeout=120).stdout
    figures: dict[str, float] = json.loads(out)
    return figures


def run() -> list[str]:
    import served

    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    lines = served.run()
    ms = openapi_ms()
    lines.append(f"  /openapi.json (cached) {ms:6.2f} ms")
    work = deferred()
    lines.append(f"  deferred at startup: all {work['operations']:.0f} validators {work['all_validators_s']:.3f} s, "
                 f"/openapi.json build {work['openapi_build_s']:.3f} s ({work['openapi_bytes'] / 2**20:.1f} MiB); "
                 f"schema load {work['schema_load_s']:.3f} s, {work['schema_rss_mb']:.1f} MB, "
                 f"{work['long_lived_objects']:.0f} long-lived objects")
    record("deferred", {**work, "openapi_ms": ms})
    from bench import mock

    mock_lines = mock.run()
    record("mock", mock_lines)
    return [*lines, *mock_lines]


if __name__ == "__main__":
    sys.exit(main_printing(run))
