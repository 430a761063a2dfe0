"""``/healthz``, ``/readyz`` and ``/metrics`` as Starlette routes for the gateway's site app."""

from __future__ import annotations

from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..errors import PVEError
from ..http.site import client_of, error_response
from ..secrets import BearerKeys
from .exposition import CONTENT_TYPE
from .health import Readiness

_NO_STORE = {"cache-control": "no-store"}


def routes(readiness: Readiness, metrics: Callable[[], str] | None, token: BearerKeys) -> list[Route]:
    """The health routes, and ``/metrics`` serving ``metrics()`` (None: no metrics) to ``token``'s holders."""
    found = [Route("/healthz", _healthz, methods=["GET"]), Route("/readyz", _readyz(readiness), methods=["GET"])]
    if metrics is not None:
        found.append(Route("/metrics", _metrics(metrics, token), methods=["GET"]))
    return found


async def _healthz(_request: Request) -> Response:
    """The process answers: nothing else is checked (a liveness probe must not fail on a node outage)."""
    return JSONResponse({"status": "ok"}, headers=_NO_STORE)


def _readyz(readiness: Readiness) -> Callable[[Request], object]:
    async def readyz(_request: Request) -> Response:
        verdict = await readiness.check()
        if verdict.ready:
            return JSONResponse({"status": "ready"}, headers=_NO_STORE)
        return JSONResponse({"status": "unavailable", "reason": verdict.reason}, status_code=503, headers=_NO_STORE)

    return readyz


def _metrics(exposition: Callable[[], str], token: BearerKeys) -> Callable[[Request], object]:
    """``token``: digested once, compared in constant time."""

    async def metrics(request: Request) -> Response:
        try:
            admitted = not token or await token.admits(request.headers, client_of(request))
        except PVEError as err:  # too many wrong tokens from this address
            return error_response(err)
        if not admitted:
            return Response("metrics need 'Authorization: Bearer TOKEN'\n", status_code=401,
                            headers={"www-authenticate": 'Bearer realm="metrics"', **_NO_STORE})
        return Response(exposition(), headers={"content-type": CONTENT_TYPE, **_NO_STORE})

    return metrics
