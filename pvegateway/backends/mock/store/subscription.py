"""A node's subscription (pve-manager PVE/API2/Subscription.pm): none until a key is set; a key is checked
against the node (its sockets) as PVE checks it before asking the shop. The mock has no
shop to ask: a well-formed key that fits the node reads as an active subscription of its level,
registered when it was set and due a year later.
"""

from __future__ import annotations

import hashlib
import re
import time
from typing import Any

from ....errors import PVEError
from ...base import Call
from ..handlers._params import flag
from ..runtime import Mock
from ..state import Node
from .layout import place

_KEY = re.compile(r"pve([1248])([cbsp])-[0-9a-f]{10}")  # 9.2's key_pattern (Subscription.pm:33 adds arm64 later)
_LEVELS = {"c": "Community", "b": "Basic", "s": "Standard", "p": "Premium"}
_PRICING = "https://www.proxmox.com/en/proxmox-virtual-environment/pricing"  # Subscription.pm:211
_YEAR = 365 * 86400


def _place(call: Call) -> str:
    return place("/nodes/{node}/subscription", call.params)


def _server_id(node: Node) -> str:
    """Proxmox::RS::Subscription's hardware address candidates: a hash the node's identity gives."""
    return hashlib.md5(node.name.encode(), usedforsecurity=False).hexdigest().upper()


def _check_key(key: str, node: Node) -> tuple[int, str]:
    """Subscription.pm:41-65 parse_key and check_key: the key's sockets cover the node's."""
    match = _KEY.fullmatch(key)
    if match is None:
        raise PVEError(500, "Wrong subscription key format\n")
    sockets, level = int(match.group(1)), match.group(2)
    if sockets < node.sockets:
        raise PVEError(500, f"wrong number of sockets ({sockets} < {node.sockets})\n")
    return sockets, level


def read(mock: Mock, call: Call) -> dict[str, Any]:
    """Subscription.pm:197-251: 'notfound' without a key; the in-code guard (incode.py) leaves out all but
    status, message and url without Sys.Audit."""
    node = mock.node(str(call.params["node"]))
    info = mock.cluster.store.singletons.get(_place(call))
    if not info:
        return {"status": "notfound", "message": "There is no subscription key", "url": _PRICING,
                "serverid": _server_id(node)}
    key = str(info["key"])
    registered = int(info["set"])
    try:
        sockets, level = _check_key(key, node)
    except PVEError as err:  # :74-80: a key that no longer fits the node
        return {"status": "invalid", "message": err.message.rstrip("\n"), "key": key,
                "serverid": _server_id(node), "sockets": node.sockets, "url": _PRICING}
    return {"status": "active", "key": key, "level": level, "serverid": _server_id(node), "sockets": node.sockets,
            "productname": f"Proxmox VE {_LEVELS[level]} Subscription {sockets} CPU/year",
            "regdate": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(registered)),
            "nextduedate": time.strftime("%Y-%m-%d", time.gmtime(registered + _YEAR)),
            "checktime": int(info.get("checktime", registered)), "url": _PRICING}


def set_key(mock: Mock, call: Call) -> None:
    """Subscription.pm:318-353: the key, trimmed and checked against the node, checked now."""
    node = mock.node(str(call.params["node"]))
    key = str(call.params["key"]).strip()
    _check_key(key, node)
    now = mock.clock.now()
    mock.cluster.store.singletons[_place(call)] = {"key": key, "set": now, "checktime": now}


def check(mock: Mock, call: Call) -> None:
    """Subscription.pm:256-306: nothing without a key; ``force`` checks the key again now (without it,
    the mock's answer is the one checked last, as PVE's recently checked cache)."""
    node = mock.node(str(call.params["node"]))
    info = mock.cluster.store.singletons.get(_place(call))
    if not info or not flag(call.params.get("force")):
        return
    _check_key(str(info["key"]), node)
    mock.cluster.store.singletons[_place(call)] = {**info, "checktime": mock.clock.now()}


def delete(mock: Mock, call: Call) -> None:
    """Subscription.pm:373-378."""
    mock.node(str(call.params["node"]))
    mock.cluster.store.singletons.pop(_place(call), None)
