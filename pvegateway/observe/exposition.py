"""The Prometheus text exposition format, version 0.0.4, written by hand: a few dozen lines do what
``prometheus_client`` would, without a dependency or its global registry (two gateways in one process,
as tests and embedding make, must not share counters)."""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Iterable, Mapping

from .metrics import BUCKETS, Histogram, Metrics

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_LE = [repr(b) for b in BUCKETS] + ["+Inf"]
_IMPORTED = time.time()


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(labels: Mapping[str, str]) -> str:
    return ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())


def _number(value: float) -> str:
    return str(value) if isinstance(value, int) else repr(float(value))


class Writer:
    """Accumulates families: a ``# HELP`` and ``# TYPE`` line, then its samples."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def family(self, name: str, kind: str, help_text: str) -> None:
        self.lines.append(f"# HELP {name} {help_text}")
        self.lines.append(f"# TYPE {name} {kind}")

    def sample(self, name: str, labels: Mapping[str, str], value: float) -> None:
        text = _labels(labels)
        self.lines.append(f"{name}{{{text}}} {_number(value)}" if text else f"{name} {_number(value)}")

    def histogram(self, name: str, labels: Mapping[str, str], histogram: Histogram) -> None:
        cumulative = histogram.cumulative()
        for le, count in zip(_LE, cumulative, strict=True):
            self.sample(f"{name}_bucket", {**labels, "le": le}, count)
        self.sample(f"{name}_sum", labels, histogram.total)
        self.sample(f"{name}_count", labels, cumulative[-1])

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def process_start_time() -> float:
    """When this process started, in Unix seconds (Linux's /proc, like prometheus_client does)."""
    try:
        with open("/proc/self/stat", "rb") as stat:
            # field 22 (starttime, in clock ticks since boot) counted after the ")" closing the name
            ticks = int(stat.read().rsplit(b")", 1)[1].split()[19])
        with open("/proc/stat", "rb") as system:
            boot = next(int(line.split()[1]) for line in system if line.startswith(b"btime "))
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return _IMPORTED  # not Linux: close enough, the package loads at startup


def render(metrics: Metrics | None, info: Mapping[str, str], started: float) -> str:
    """Every family, in a stable order; ``metrics`` None exposes only the gateway and process ones."""
    out = Writer()
    out.family("pvegateway_info", "gauge", "The gateway: its version, the loaded PVE schema and the backend.")
    out.sample("pvegateway_info", info, 1)
    if metrics is not None:
        _requests(out, metrics)
    _process(out, started)
    return out.text()


def _operations(metrics: Metrics) -> Iterable[tuple[dict[str, str], Mapping[int, int], Histogram]]:
    for (method, template), counted in sorted(metrics.operations.items()):
        yield {"method": method, "operation": template}, counted.statuses, counted.duration


def _requests(out: Writer, metrics: Metrics) -> None:
    operations = list(_operations(metrics))
    out.family("pvegateway_requests_total", "counter",
               "API requests answered, by operation (method and path template) and HTTP status.")
    for labels, statuses, _ in operations:
        for status, count in sorted(statuses.items()):
            out.sample("pvegateway_requests_total", {**labels, "status": str(status)}, count)
    out.family("pvegateway_request_duration_seconds", "histogram",
               "Time from a request's arrival to the end of its answer, by operation.")
    for labels, _, duration in operations:
        out.histogram("pvegateway_request_duration_seconds", labels, duration)
    out.family("pvegateway_rate_limited_total", "counter", "Requests refused with 429 (rate limits), by operation.")
    for labels, statuses, _ in operations:
        if statuses.get(429):
            out.sample("pvegateway_rate_limited_total", labels, statuses[429])
    out.family("pvegateway_upstream_errors_total", "counter",
               "Proxy mode: 502/503/504 answers the gateway made because no PVE node answered, by status.")
    for status in (502, 503, 504):
        out.sample("pvegateway_upstream_errors_total", {"status": str(status)}, metrics.upstream_errors.get(status, 0))
    out.family("pvegateway_upstream_duration_seconds", "histogram",
               "Proxy mode: from sending a request to a node to the arrival of its answer's headers.")
    out.histogram("pvegateway_upstream_duration_seconds", {}, metrics.upstream_duration)


def _process(out: Writer, started: float) -> None:
    out.family("process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.")
    out.sample("process_start_time_seconds", {}, started)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    out.family("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.")
    out.sample("process_cpu_seconds_total", {}, usage.ru_utime + usage.ru_stime)
