"""Mock handlers: guests, the QEMU and LXC routes merged (their shared parts live in ``_guest*`` modules)."""

from __future__ import annotations

from ..runtime import Handler
from . import lxc, qemu


def _merge() -> dict[tuple[str, str], Handler]:
    routes: dict[tuple[str, str], Handler] = {}
    for module in (qemu, lxc):
        for key, handler in module.ROUTES.items():
            if key in routes:
                raise RuntimeError(f"two guest handlers for {key}")
            routes[key] = handler
    return routes


ROUTES: dict[tuple[str, str], Handler] = _merge()
