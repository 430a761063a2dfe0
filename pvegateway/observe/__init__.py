"""Observability for a Gateway: a JSON access log, Prometheus metrics, liveness and readiness.

An :class:`Observability` is made for a backend before the gateway, and given to it whole::

    seen = Observability("mock", metrics=True)
    gateway = create_app(schema, backend, observer=seen.observer, extensions=[seen])

``observer`` is the ApiApp hook called once per ``/api2`` request with an ``Exchange`` (method, path
template, status, timings, client address; never parameters or credentials); as an extension it serves
``/healthz``, ``/readyz`` and, with metrics, ``/metrics`` next to ``/openapi.json``. Readiness follows
the backend's startup.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.routing import Route

from .. import __version__
from ..http.api import Exchange, Observer
from ..secrets import BearerKeys, require_strong_keys
from .access import LOGGER, AccessLog, log_to
from .endpoints import routes
from .exposition import process_start_time, render
from .health import Readiness
from .metrics import Metrics

if TYPE_CHECKING:
    from ..extension import Site

__all__ = ["LOGGER", "Observability", "log_to"]


class Both:
    """Metrics and the access log behind the one observer slot ApiApp has."""

    __slots__ = ("access", "metrics")

    def __init__(self, metrics: Metrics, access: AccessLog) -> None:
        self.metrics = metrics
        self.access = access

    def record(self, exchange: Exchange) -> None:
        self.metrics.record(exchange)
        self.access.record(exchange)


class Observability:
    """Access log lines on the ``pvegateway.access`` logger (INFO; see ``log_to``), counters for
    ``/metrics`` (which then asks for ``Authorization: Bearer metrics_token`` if one is given), and the
    health routes. Both off leaves the request path untouched (``observer`` is None)."""

    def __init__(self, backend: str, *, access_log: bool = True, metrics: bool = True,
                 metrics_token: str | None = None, readiness_ttl: float = 3.0,
                 readiness_timeout: float = 2.0) -> None:
        require_strong_keys([metrics_token], "the metrics token")
        self.metrics = Metrics(proxy=backend == "proxy") if metrics else None
        logged = AccessLog(backend) if access_log else None
        self.observer: Observer | None = (
            Both(self.metrics, logged) if self.metrics and logged else self.metrics or logged)
        # the token, digested once, with its count of wrong ones: kept when the site's routes are built
        # again (a schema swap), so a swap does not reset the count
        self.metrics_keys = BearerKeys([metrics_token])
        self.started = process_start_time()
        self._readiness = (readiness_ttl, readiness_timeout)
        self.readiness: Readiness | None = None
        self.gateway: Site | None = None

    def routes(self, gateway: Site) -> list[Route]:
        """The health routes (and ``/metrics``) of ``gateway``: the gateway asks for them when it builds
        its site, at construction and after a schema swap."""
        if self.gateway is not gateway or self.readiness is None:
            ttl, timeout = self._readiness
            self.gateway, self.readiness = gateway, Readiness(gateway, ttl=ttl, timeout=timeout)
        return routes(self.readiness, self.exposition if self.metrics is not None else None, self.metrics_keys)

    def info(self) -> dict[str, str]:
        """Read at each scrape: the schema may be swapped while serving."""
        gateway = self.gateway
        if gateway is None:
            return {"version": __version__}
        return {"version": __version__, "schema": str(gateway.schema.version),
                "backend": gateway.backend.name}

    def exposition(self) -> str:
        return render(self.metrics, self.info(), self.started)
