"""Answers of the gateway's own site routes (codegen, ``/metrics``, the mock's control API) when they
speak PVE's JSON envelope, and who is asking: one place for both."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ..errors import PVEError
from . import envelope


def client_of(request: Request) -> str:
    """The caller's address, what its budgets are counted by (behind a reverse proxy, every caller is
    the proxy)."""
    return request.client.host if request.client is not None else "unknown"


def error_response(error: PVEError) -> Response:
    """``error`` as the API path renders it: ``{"data": null, "message": ..., "errors": ...}``."""
    rendered = envelope.failure("json", PVEError(error.status, error.message, error.errors,
                                                 headers=error.headers))
    return Response(rendered.body, status_code=rendered.status, headers=rendered.headers,
                    media_type=rendered.content_type)


def success_response(data: object) -> Response:
    rendered = envelope.success("json", data)
    return Response(rendered.body, status_code=rendered.status, media_type=rendered.content_type)
