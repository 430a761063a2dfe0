"""The configuration the store keeps: plain JSON-able data, by place.

A *place* is a path of the API tree with its parameters' values, where PVE keeps one configuration:
``/cluster/sdn/zones`` (``sdn/zones.cfg``), ``/nodes/pve1/network`` (that node's
``/etc/network/interfaces``), ``/vms/100/firewall/rules`` (``firewall/100.fw``: PVE keeps a guest's
firewall by VMID, whichever node the guest runs on, so the guest's node is not part of its places).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


def guest_place(vmid: int | str) -> str:
    """Where a guest's configuration beyond its own config file is kept (its firewall)."""
    return f"/vms/{vmid}"


@dataclass
class ConfigData:
    # section-config collections: place -> id -> options, in creation order
    sections: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    # one set of options per place (``datacenter.cfg``, a node's DNS, a firewall's options)
    singletons: dict[str, dict[str, Any]] = field(default_factory=dict)
    # ordered entries addressed by position (firewall rules)
    lists: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    serial: int = 0  # ids the store generates (backup jobs), deterministic across runs
    # section-config collections as last applied, by place, where PVE keeps a running configuration beside
    # the one its API writes: a node's /etc/network/interfaces while interfaces.new holds changes, SDN's
    # .running-config (interfaces.py, sdn.py)
    running: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)

    def dump(self) -> dict[str, Any]:
        return copy.deepcopy({"sections": self.sections, "singletons": self.singletons, "lists": self.lists,
                              "serial": self.serial, "running": self.running})

    @classmethod
    def load(cls, data: Mapping[str, Any] | None) -> ConfigData:
        data = copy.deepcopy(dict(data or {}))
        return cls(dict(data.get("sections") or {}), dict(data.get("singletons") or {}),
                   dict(data.get("lists") or {}), int(data.get("serial") or 0), dict(data.get("running") or {}))

    def item(self, path: str) -> dict[str, Any] | None:
        """The item of a collection by its path (``/cluster/replication/100-0``)."""
        where, _, ident = path.rpartition("/")
        return self.sections.get(where, {}).get(ident)

    def _maps(self) -> tuple[dict[str, Any], ...]:
        return self.sections, self.singletons, self.lists

    def drop(self, place: str) -> None:
        """Forget everything kept at ``place`` and under it (a destroyed guest's firewall)."""
        below = place + "/"
        for kept in self._maps():
            for key in [k for k in kept if k == place or k.startswith(below)]:
                del kept[key]

    def copy_tree(self, source: str, target: str) -> None:
        """What is kept under ``source``, again under ``target`` (a clone's firewall)."""
        below = source + "/"
        for kept in self._maps():
            for key in [k for k in kept if k == source or k.startswith(below)]:
                kept[target + key[len(source):]] = copy.deepcopy(kept[key])
