"""The mock's control API: ``/_gateway/...`` routes for tests to reset, seed, inspect and drive the cluster,
and to inject faults (``/faults``, ``/nodes/{node}`` online or not, ``/storages/{storage}`` full or not:
:mod:`.faults`).

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
from .faults import Fault
from .faults import dump as dump_faults
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


def _flag(body: Any, name: str) -> bool:
    value = body.get(name) if isinstance(body, dict) else None
    if not isinstance(value, bool):
        raise ValueError(f'PUT {{"{name}": true | false}}')
    return value


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

    def add_fault(self, spec: Mapping[str, Any]) -> Fault: ...

    def remove_faults(self, ident: int | None = None) -> int: ...

    def set_online(self, node: str, online: bool) -> None: ...

    def set_full(self, storage: str, full: bool) -> None: ...


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

    async def faults(self, request: Request) -> Response:
        return JSONResponse({"faults": dump_faults(self.backend.mock.cluster.faults)})

    async def add_fault(self, request: Request) -> Response:
        fault = self.backend.add_fault(await _body(request))
        return JSONResponse({"ok": True, "fault": dump_faults([fault])[0]})

    async def clear_faults(self, request: Request) -> Response:
        return JSONResponse({"ok": True, "removed": self.backend.remove_faults()})

    async def remove_fault(self, request: Request) -> Response:
        ident = request.path_params["ident"]
        if not self.backend.remove_faults(ident):
            return _error(404, f"control API: no fault {ident}")
        return JSONResponse({"ok": True, "removed": 1})

    async def node(self, request: Request) -> Response:
        online = _flag(await _body(request), "online")
        self.backend.set_online(request.path_params["node"], online)
        return JSONResponse({"ok": True, "online": online})

    async def storage(self, request: Request) -> Response:
        full = _flag(await _body(request), "full")
        self.backend.set_full(request.path_params["storage"], full)
        return JSONResponse({"ok": True, "full": full})

    def routes(self) -> list[Route]:
        table: list[tuple[str, str, Endpoint]] = [
            ("/reset", "POST", self.reset),
            ("/seed", "POST", self.seed),
            ("/state", "GET", self.state),
            ("/tasks", "PUT", self.tasks),
            ("/tasks/finish", "POST", self.finish),
            ("/clock", "POST", self.clock),
            ("/faults", "GET", self.faults),
            ("/faults", "POST", self.add_fault),
            ("/faults", "DELETE", self.clear_faults),
            ("/faults/{ident:int}", "DELETE", self.remove_fault),
            ("/nodes/{node}", "PUT", self.node),
            ("/storages/{storage}", "PUT", self.storage),
        ]
        return [Route(PREFIX + path, self._guarded(endpoint), methods=[method]) for path, method, endpoint in table]


def routes(backend: Controlled) -> list[Route]:
    return Control(backend).routes()
