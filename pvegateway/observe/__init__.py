"""Observability for a Gateway: a JSON access log, Prometheus metrics, liveness and readiness.

``install(gateway)`` sets ``gateway.api.observer`` (the ApiApp hook called once per ``/api2`` request
with an ``Exchange``: method, path template, status, timings, client address, never parameters or
credentials) and adds ``/healthz``, ``/readyz`` and, with metrics, ``/metrics`` to the gateway's site
app. Call it before the gateway's lifespan starts: readiness follows the backend's startup.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from starlette.routing import Route

from .. import __version__
from ..http.api import Exchange, Observer
from ..secrets import BearerKeys, require_strong_keys
from .access import LOGGER, AccessLog, log_to
from .exposition import process_start_time, render
from .health import Readiness
from .metrics import Metrics

if TYPE_CHECKING:
    from ..app import Gateway

__all__ = ["LOGGER", "Observability", "install", "log_to", "routes"]
_ATTR = "_pvegateway_observability"


class Both:
    """Metrics and the access log behind the one observer slot ApiApp has."""

    __slots__ = ("access", "metrics")

    def __init__(self, metrics: Metrics, access: AccessLog) -> None:
        self.metrics = metrics
        self.access = access

    def record(self, exchange: Exchange) -> None:
        self.metrics.record(exchange)
        self.access.record(exchange)


def backend_name(backend: object) -> str:
    """``mock``, ``proxy``, ``generic``: the name ``create_app`` knows the backend by."""
    name = getattr(backend, "name", None)
    if isinstance(name, str):
        return name
    return type(backend).__name__.removesuffix("Backend").lower() or "custom"


@dataclass
class Observability:
    gateway: Gateway
    readiness: Readiness
    metrics: Metrics | None = None
    metrics_token: str | None = field(default=None, repr=False)
    started: float = field(default_factory=process_start_time)

    def info(self) -> dict[str, str]:
        """Read at each scrape: the schema may be swapped while serving."""
        return {"version": __version__, "schema": str(self.gateway.schema.version),
                "backend": backend_name(self.gateway.backend)}

    def exposition(self) -> str:
        return render(self.metrics, self.info(), self.started)

    @functools.cached_property
    def metrics_keys(self) -> BearerKeys:
        """The token, digested once, and its count of wrong ones: kept when the site's routes are built
        again (a schema swap), so a swap does not reset the count."""
        return BearerKeys([self.metrics_token])


def install(gateway: Gateway, *, access_log: bool = True, metrics: bool = True, metrics_token: str | None = None,
            readiness_ttl: float = 3.0, readiness_timeout: float = 2.0) -> Observability:
    """Observe ``gateway``: access log lines on the ``pvegateway.access`` logger (INFO; see ``log_to``),
    counters for ``/metrics`` (which then asks for ``Authorization: Bearer metrics_token`` if one is
    given), and the health routes. Both off leaves the request path untouched (no observer)."""
    if _ATTR in vars(gateway):
        raise RuntimeError("observability is already installed on this gateway")
    require_strong_keys([metrics_token], "the metrics token")
    name = backend_name(gateway.backend)
    counted = Metrics(proxy=name == "proxy") if metrics else None
    logged = AccessLog(name) if access_log else None
    observer: Observer | None = Both(counted, logged) if counted and logged else counted or logged
    gateway.api.observer = observer
    readiness = Readiness(gateway, ttl=readiness_ttl, timeout=readiness_timeout)
    observability = Observability(gateway, readiness, counted, metrics_token)
    setattr(gateway, _ATTR, observability)
    gateway.add_site_routes(lambda: routes(gateway))
    return observability


def installed(gateway: Gateway) -> Observability | None:
    found: Observability | None = vars(gateway).get(_ATTR)
    return found


def routes(gateway: Gateway) -> list[Route]:
    """The routes ``install`` prepared for ``gateway`` (none if it was not called); ``install`` already
    adds them to the gateway's own site, this is for serving them elsewhere too."""
    from .endpoints import routes as made

    observability = installed(gateway)
    return made(observability) if observability is not None else []


