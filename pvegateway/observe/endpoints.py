"""``/healthz``, ``/readyz`` and ``/metrics`` as Starlette routes for the gateway's site app."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..errors import PVEError
from ..http.site import client_of, error_response
from .exposition import CONTENT_TYPE

if TYPE_CHECKING:
    from . import Observability

_NO_STORE = {"cache-control": "no-store"}


def routes(observability: Observability) -> list[Route]:
    found = [Route("/healthz", _healthz, methods=["GET"]), Route("/readyz", _readyz(observability), methods=["GET"])]
    if observability.metrics is not None:
        found.append(Route("/metrics", _metrics(observability), methods=["GET"]))
    return found


async def _healthz(_request: Request) -> Response:
    """The process answers: nothing else is checked (a liveness probe must not fail on a node outage)."""
    return JSONResponse({"status": "ok"}, headers=_NO_STORE)


def _readyz(observability: Observability) -> Callable[[Request], object]:
    async def readyz(_request: Request) -> Response:
        readiness = observability.readiness
        assert readiness is not None  # set when the gateway asked for these routes
        verdict = await readiness.check()
        if verdict.ready:
            return JSONResponse({"status": "ready"}, headers=_NO_STORE)
        return JSONResponse({"status": "unavailable", "reason": verdict.reason}, status_code=503, headers=_NO_STORE)

    return readyz


def _metrics(observability: Observability) -> Callable[[Request], object]:
    token = observability.metrics_keys  # digested once, compared in constant time

    async def metrics(request: Request) -> Response:
        try:
            admitted = not token or await token.admits(request.headers, client_of(request))
        except PVEError as err:  # too many wrong tokens from this address
            return error_response(err)
        if not admitted:
            return Response("metrics need 'Authorization: Bearer TOKEN'\n", status_code=401,
                            headers={"www-authenticate": 'Bearer realm="metrics"', **_NO_STORE})
        return Response(observability.exposition(), headers={"content-type": CONTENT_TYPE, **_NO_STORE})

    return metrics
