"""Realistic handlers by area; each module exports ``ROUTES: {(method, path template): handler}``.

A handler returns the answer's ``data`` (or a Result for ``total``/``changes``) and raises PVEError
for PVE's failures. It must validate everything before it changes anything: a failed request leaves
the state as it was.
"""

from __future__ import annotations

from ..runtime import Handler
from . import access, cluster, consoles, guests, nodes, rrd, storage, tasks


def all_routes() -> dict[tuple[str, str], Handler]:
    routes: dict[tuple[str, str], Handler] = {}
    for module in (access, cluster, consoles, guests, nodes, rrd, storage, tasks):
        for key, handler in module.ROUTES.items():
            if key in routes:
                raise RuntimeError(f"two mock handlers for {key}")
            routes[key] = handler
    return routes
