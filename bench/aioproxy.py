"""The reference beside ``pvegateway/backends/proxy/http1.py``: a minimal aiohttp pass-through proxy.

``python bench/aioproxy.py --port N --upstream URL --fingerprint SHA256 --tls CERT KEY`` serves HTTPS on
127.0.0.1 and forwards each request (method, path, query, cookie, CSRF and authorization headers, body)
to the upstream over a pooled aiohttp client pinned to the upstream's certificate, and passes the answer
back. No validation, no logging: the floor of an aiohttp-based proxy, which is what the hand-made client
was chosen over (``bench/proxy.py`` runs both, so that figure stays checkable). Under uvloop, as
``pvegateway serve`` runs.
"""

from __future__ import annotations

import argparse
import ssl

import aiohttp
import uvloop
from aiohttp import web

PASSED = ("Cookie", "CSRFPreventionToken", "Authorization", "Content-Type")


def application(upstream: str, fingerprint: str) -> web.Application:
    pin = aiohttp.Fingerprint(bytes.fromhex(fingerprint.replace(":", "")))
    app = web.Application()

    async def start(app: web.Application) -> None:
        app["client"] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=pin, limit=64))

    async def stop(app: web.Application) -> None:
        await app["client"].close()

    async def forward(request: web.Request) -> web.Response:
        headers = {name: request.headers[name] for name in PASSED if name in request.headers}
        body = await request.read()
        async with app["client"].request(request.method, f"{upstream}{request.path_qs}", headers=headers,
                                         data=body or None) as answer:
            data = await answer.read()
            return web.Response(status=answer.status, reason=answer.reason, body=data,
                                headers={"Content-Type": answer.headers.get("Content-Type", "application/json")})

    app.on_startup.append(start)
    app.on_cleanup.append(stop)
    app.router.add_route("*", "/{tail:.*}", forward)
    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--fingerprint", required=True)
    parser.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"), required=True)
    args = parser.parse_args()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*args.tls)
    web.run_app(application(args.upstream, args.fingerprint), host="127.0.0.1", port=args.port,
                ssl_context=context, access_log=None, print=lambda *_: None, loop=uvloop.new_event_loop())


if __name__ == "__main__":
    main()
