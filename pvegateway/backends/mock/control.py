"""The mock's control API: ``/_gateway/...`` routes for tests to reset, seed, inspect and drive the cluster.

Off unless a key is configured (``MockOptions.control_key``): then every call needs
``Authorization: Bearer <key>``. The key is kept as a SHA-256 digest (:class:`~pvegateway.secrets.BearerKeys`),
compared in constant time and never logged; too many wrong keys from one address are a 429.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ...errors import PVEError
from ...http.site import client_of, error_response
from ...secrets import BearerKeys
from .runtime import Mock
from .tasks import Progression

PREFIX = "/_gateway"
Endpoint = Callable[[Request], Awaitable[Response]]


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _body(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        return None
    return json.loads(raw)


class _Options(Protocol):
    tasks: str


class Controlled(Protocol):
    """What the control API drives: the mock backend, as it is seen from here."""

    mock: Mock
    control_keys: BearerKeys

    @property
    def options(self) -> _Options: ...

    def reset(self, seed: Mapping[str, Any] | None = None) -> None: ...

    def dump(self) -> dict[str, Any]: ...


class Control:
    def __init__(self, backend: Controlled) -> None:
        self.backend = backend
        self.key = backend.control_keys  # none: the routes answer 404

    def _guarded(self, endpoint: Endpoint) -> Endpoint:
        async def guarded(request: Request) -> Response:
            if not self.key:
                return Response(status_code=404)
            if not request.headers.get("authorization"):
                return _error(401, "control API: missing 'Authorization: Bearer <key>' header")
            try:
                if not await self.key.admits(request.headers, client_of(request)):
                    return _error(403, "control API: wrong key")
            except PVEError as err:  # too many wrong keys from this address
                return error_response(err)
            try:
                return await endpoint(request)
            except (ValueError, TypeError, KeyError) as err:
                return _error(400, f"control API: {err}")

        return guarded

    async def reset(self, request: Request) -> Response:
        seed = await _body(request)
        if seed is not None and not isinstance(seed, dict):
            raise ValueError("the seed must be a JSON object")
        self.backend.reset(seed)
        return JSONResponse({"ok": True, "guests": len(self.backend.mock.cluster.guests)})

    async def seed(self, request: Request) -> Response:
        seed = await _body(request)
        if not isinstance(seed, dict):
            raise ValueError("POST a seed: a JSON object")
        self.backend.reset(seed)  # and later resets go back to it
        return JSONResponse({"ok": True, "guests": len(self.backend.mock.cluster.guests)})

    async def state(self, request: Request) -> Response:
        return JSONResponse(self.backend.dump())

    async def tasks(self, request: Request) -> Response:
        body = await _body(request)
        mode = body.get("mode") if isinstance(body, dict) else body
        if not isinstance(mode, str):
            raise ValueError('PUT {"mode": "immediate" | "polls:N" | "delay:SECONDS"}')
        progression = Progression.parse(mode)
        self.backend.mock.tasks.progression = progression
        self.backend.options.tasks = str(progression)
        return JSONResponse({"ok": True, "mode": str(progression)})

    async def finish(self, request: Request) -> Response:
        tasks = self.backend.mock.tasks
        running = sum(1 for log in self.backend.mock.cluster.tasks.values() for t in log.values()
                      if t.status == "running")
        tasks.finish_all()
        return JSONResponse({"ok": True, "finished": running})

    async def clock(self, request: Request) -> Response:
        body = await _body(request)
        seconds = body.get("seconds") if isinstance(body, dict) else body
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
            raise ValueError('POST {"seconds": N} with N >= 0')
        self.backend.mock.clock.advance(float(seconds))
        return JSONResponse({"ok": True, "now": self.backend.mock.clock.now()})

    def routes(self) -> list[Route]:
        table: list[tuple[str, str, Endpoint]] = [
            ("/reset", "POST", self.reset),
            ("/seed", "POST", self.seed),
            ("/state", "GET", self.state),
            ("/tasks", "PUT", self.tasks),
            ("/tasks/finish", "POST", self.finish),
            ("/clock", "POST", self.clock),
        ]
        return [Route(PREFIX + path, self._guarded(endpoint), methods=[method]) for path, method, endpoint in table]


def routes(backend: Controlled) -> list[Route]:
    return Control(backend).routes()
