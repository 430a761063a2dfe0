"""The bare Starlette reference for the benchmark: ``python -m bench.serve --port N [--tls CERT KEY]``.

One route per benchmarked request, under uvicorn as ``pvegateway serve`` runs it (httptools, uvloop, one
worker, no access log), over plain HTTP or TLS with the gateway's own certificate. It answers with the
gateway's data (``bench/served.py`` records it first and hands it over in the ``--answers`` file), decoded once
and encoded per request as a bare Starlette endpoint does (JSONResponse): the ratio measures what the
gateway adds (authentication, validation, its access log, the mock's handlers), not payload size.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

Endpoint = Callable[[Request], Awaitable[Response]]


def _endpoint(answer: Any, reads_body: bool) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        if reads_body:
            await request.body()
        return JSONResponse(answer)

    return endpoint


def reference(answers: dict[str, str]) -> Starlette:
    """``answers``: ``"METHOD /path"`` -> the JSON text to answer with."""
    routes = []
    for key, text in answers.items():
        method, path = key.split(" ", 1)
        routes.append(Route(path, _endpoint(json.loads(text), method != "GET"), methods=[method]))
    return Starlette(routes=routes)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--answers", type=Path, required=True, help='{"METHOD /path": "JSON text", ...}')
    parser.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    args = parser.parse_args()
    cert, key = args.tls or (None, None)
    app = reference(json.loads(args.answers.read_text()))
    config = uvicorn.Config(app, host="127.0.0.1", port=args.port, http="httptools", ssl_certfile=cert,
                            ssl_keyfile=key, log_level="warning", access_log=False)
    uvicorn.Server(config).run()  # uvicorn's runner: uvloop, as `pvegateway serve` runs


if __name__ == "__main__":
    main()
