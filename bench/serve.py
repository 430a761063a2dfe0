"""Start one server for the benchmark: the gateway, or the bare one-route Starlette reference.

Both run under the same uvicorn settings (httptools, uvloop, one worker, no access log).
"""

from __future__ import annotations

import argparse
import json
import os

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

# The reference answers with the gateway's data (bench/run.py records it first), encoded per request as
# a bare Starlette endpoint does (JSONResponse): the ratio measures what the gateway adds, not payload size.
_ANSWERS = json.loads(os.environ.get("BENCH_ANSWERS", "{}"))
VERSION = json.loads(_ANSWERS.get("version", '{"data":{"version":"9.2.0","release":"9.2","repoid":"2b8a0d4c"}}'))
STATUS = json.loads(_ANSWERS.get("status", '{"data":{"status":"running","vmid":100,"name":"vm100","cpus":1}}'))


async def version(_request: Request) -> Response:
    return JSONResponse(VERSION)


async def status(_request: Request) -> Response:
    return JSONResponse(STATUS)


def reference() -> Starlette:
    """The floor: the same two answers from a bare Starlette app with nothing else in it."""
    return Starlette(routes=[
        Route("/api2/json/version", version),
        Route("/api2/json/nodes/{node}/qemu/{vmid}/status/current", status),
    ])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("which", choices=("gateway", "reference"))
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    if args.which == "gateway":
        from pvegateway.app import create_app
        from pvegateway.http.server import tune_gc, uvicorn_config

        app = create_app("9.2", "generic", send_reason=True)
        config = uvicorn_config(app, port=args.port, access_log=False)
        tune_gc()  # as `pvegateway serve` does for its process (the library leaves the host's GC alone)
    else:
        config = uvicorn.Config(reference(), host="127.0.0.1", port=args.port, http="httptools",
                                log_level="warning", access_log=False)
    uvicorn.Server(config).run()  # uvicorn's runner: uvloop for both, as `pvegateway serve` runs


if __name__ == "__main__":
    main()
