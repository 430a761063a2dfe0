"""Request counters and latency histograms, kept per operation so their number is bounded by the
schema (one series set per method and path template), never by the paths clients send.

Everything runs on the server's event loop thread (``record`` after each request, ``render`` for a
scrape), so plain ints and dicts suffice: no locks on the hot path. Counts are per process.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field

from ..http.api import Exchange

# request latency, from the sub-millisecond answers the gateway gives itself (``make bench`` prints its
# p50 and p99) through proxied and task-starting calls; the 30 s top matches the proxy's read timeout
BUCKETS: tuple[float, ...] = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                              1.0, 2.5, 5.0, 10.0, 30.0)
UNROUTED = "unrouted"  # the operation label of requests answered before one matched: 401s, unknown paths
_KNOWN_METHODS = frozenset(("GET", "POST", "PUT", "DELETE"))
_GATEWAY_MADE = frozenset((502, 503, 504))


class Histogram:
    """Observations per bucket (not yet cumulative: that is done once per scrape) and their sum."""

    __slots__ = ("counts", "total")

    def __init__(self) -> None:
        self.counts = [0] * (len(BUCKETS) + 1)  # the last one is +Inf
        self.total = 0.0

    def observe(self, seconds: float) -> None:
        # bisect_left: the first bound >= seconds, Prometheus' "le" (less or equal)
        self.counts[bisect_left(BUCKETS, seconds)] += 1
        self.total += seconds

    def cumulative(self) -> list[int]:
        running = 0
        out = []
        for count in self.counts:
            running += count
            out.append(running)
        return out


@dataclass(slots=True)
class Operation:
    """What is counted for one operation (method and path template)."""

    duration: Histogram = field(default_factory=Histogram)
    statuses: dict[int, int] = field(default_factory=dict)


class Metrics:
    """An ``Observer`` counting requests by operation and status, their latency, upstream errors the
    gateway itself answered (proxy mode) and the upstream's latency."""

    def __init__(self, *, proxy: bool = False) -> None:
        self.proxy = proxy
        self.operations: dict[tuple[str, str], Operation] = {}
        self.upstream_errors: dict[int, int] = {}
        self.upstream_duration = Histogram()

    def record(self, exchange: Exchange) -> None:
        method = exchange.method
        template = exchange.template
        if template is None:
            template = UNROUTED
            if method not in _KNOWN_METHODS:
                method = "other"  # whatever the HTTP parser let through: keep the label set closed
        key = (method, template)
        counted = self.operations.get(key)
        if counted is None:
            counted = self.operations[key] = Operation()
        counted.duration.observe(exchange.seconds)
        status = exchange.status
        statuses = counted.statuses
        statuses[status] = statuses.get(status, 0) + 1
        upstream = exchange.upstream_seconds
        if upstream is not None:
            self.upstream_duration.observe(upstream)
        elif self.proxy and status in _GATEWAY_MADE:
            # a 502/503/504 with no upstream timing was answered by the gateway: no node answered (a
            # node's own 5xx passes through with its timing and is counted as a request only)
            self.upstream_errors[status] = self.upstream_errors.get(status, 0) + 1
