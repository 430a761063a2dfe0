"""Guest operations PVE opens to every user (``user: all``) that need no guest state: indexes and the
migration tunnel's websocket, which only a tunnel ticket opens."""

from __future__ import annotations

from typing import Any

from ....errors import PVEError
from ...base import Call
from ..runtime import Handler, Mock
from ._guest_common import Kind, guest_of

# qemu-server src/PVE/API2/Qemu/Agent.pm:148-167: the agent commands, sorted
_AGENT_COMMANDS = ("exec", "exec-status", "file-read", "file-write", "fsfreeze-freeze", "fsfreeze-status",
                   "fsfreeze-thaw", "fstrim", "get-fsinfo", "get-host-name", "get-memory-block-info",
                   "get-memory-blocks", "get-osinfo", "get-time", "get-timezone", "get-users", "get-vcpus",
                   "info", "network-get-interfaces", "ping", "set-user-password", "shutdown", "suspend-disk",
                   "suspend-hybrid", "suspend-ram")


def agent_index(mock: Mock, call: Call) -> list[dict[str, str]]:
    return [{"name": name} for name in _AGENT_COMMANDS]


def firewall_index(mock: Mock, call: Call) -> list[dict[str, str]]:
    """pve-firewall src/PVE/API2/Firewall/VM.pm:52-63 (VMs and containers alike)."""
    return [{"name": name} for name in ("rules", "aliases", "ipset", "refs", "options")]


def mtunnel_websocket(kind: Kind) -> Handler:
    """Qemu.pm:7272-7294 (LXC.pm the same): the guest must exist, then the ticket is checked. The mock
    hands out no migration tunnels, so no ticket is valid (PVE::Ticket's 401, pve-common Ticket.pm:106)."""
    def handler(mock: Mock, call: Call) -> Any:
        guest_of(mock, call, kind)
        raise PVEError(401, "permission denied - invalid PVETUNNEL ticket\n")
    return handler


def open_routes(kind: Kind, base: str) -> dict[tuple[str, str], Handler]:
    routes: dict[tuple[str, str], Handler] = {
        ("GET", base + "/{vmid}/firewall"): firewall_index,
        ("GET", base + "/{vmid}/mtunnelwebsocket"): mtunnel_websocket(kind),
    }
    if kind.name == "qemu":
        routes[("GET", base + "/{vmid}/agent")] = agent_index
    return routes
