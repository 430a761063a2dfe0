"""Embed pvegateway in your own Starlette service: the PVE API (here the mock) under ``/pve``.

    python examples/embed_in_starlette.py --port 8080
    curl -s -d username=root@pam -d password=pvegateway http://127.0.0.1:8080/pve/api2/json/access/ticket

The gateway is a plain ASGI app: mount it anywhere, and hand its ``lifespan`` to the parent so its
backend starts and stops with your service.
"""

from __future__ import annotations

import argparse

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from pvegateway import create_app


def build_app(apidoc: str | None = None) -> Starlette:
    gateway = create_app(apidoc, "mock")  # or "proxy", upstreams=[...], fingerprints=[...]

    async def status(_request: Request) -> JSONResponse:
        return JSONResponse({"service": "my-automation", "pve_api": gateway.schema.version,
                             "operations": len(gateway.schema.operations)})

    return Starlette(routes=[Route("/status", status), Mount("/pve", app=gateway)], lifespan=gateway.lifespan)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--apidoc", default=None)
    args = parser.parse_args()
    uvicorn.run(build_app(args.apidoc), host="127.0.0.1", port=args.port)


if __name__ == "__main__":
    main()
