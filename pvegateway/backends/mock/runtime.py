"""What a mock handler works with: the cluster state and the services around it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ...errors import PVEError
from ..base import Call, Identity
from .clock import Clock
from .consoles.registry import Consoles
from .perms import Permissions
from .state import Cluster, Guest, Node
from .tasks import Tasks
from .tickets import Signer


@dataclass
class Mock:
    cluster: Cluster
    clock: Clock
    signer: Signer
    tasks: Tasks
    consoles: Consoles = field(default_factory=Consoles)  # open vncproxy/termproxy/vncshell ports

    @property
    def permissions(self) -> Permissions:
        return Permissions(self.cluster)

    def node(self, name: str) -> Node:
        """A node of the cluster; an unknown one fails like pveproxy's proxy lookup."""
        node = self.cluster.nodes.get(name)
        if node is None:
            raise PVEError(500, f"hostname lookup '{name}' failed - failed to get address info for: {name}: "
                                f"Name or service not known\n")
        return node

    def guest(self, vmid: Any, node: str | None = None, kind: str | None = None) -> Guest:
        """The guest, checked to live on ``node`` with PVE's 'does not exist' message."""
        guest = self.cluster.guests.get(int(vmid))
        if guest is None or (node is not None and guest.node != node) or (kind and guest.kind != kind):
            where = node or (guest.node if guest else "localhost")
            folder = "qemu-server" if (kind or (guest.kind if guest else "qemu")) == "qemu" else "lxc"
            raise PVEError(500, f"Configuration file 'nodes/{where}/{folder}/{vmid}.conf' does not exist\n")
        return guest


def user_of(call: Call) -> str:
    identity: Identity | None = call.identity
    return identity.authid if identity is not None else "root@pam"


Handler = Callable[[Mock, Call], Any]
