"""The routes both guest kinds share: config, pending, power, snapshots and the other operations."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..runtime import Handler
from . import _guest_config as config
from ._guest_common import Kind
from ._guest_open import open_routes
from ._guest_ops import ops_routes
from ._guest_power import power_routes
from ._snapshots import snapshot_routes


def guest_routes(kind: Kind, base: str, own: Mapping[tuple[str, str], Any]) -> dict[tuple[str, str], Handler]:
    """``own`` (create and what only this kind has) plus every route the two kinds have in common."""
    routes: dict[tuple[str, str], Any] = {
        **own,
        ("GET", base + "/{vmid}/config"): config.get_config(kind),
        ("PUT", base + "/{vmid}/config"): config.put_config(kind),
        ("GET", base + "/{vmid}/pending"): config.get_pending(kind),
    }
    routes.update(power_routes(kind, base))
    routes.update(snapshot_routes(kind, base))
    routes.update(ops_routes(kind, base))
    routes.update(open_routes(kind, base))
    return routes
