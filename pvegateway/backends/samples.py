"""Plausible, deterministic values shaped by an operation's ``returns`` schema."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from ..schema.dialect import Node, read
from ..schema.perl import truthy

_BY_FORMAT: Mapping[str, str] = {
    "pve-node": "pve1", "pve-vmid": "100", "pve-storage-id": "local", "pve-configid": "net0",
    "pve-userid": "root@pam", "pve-realm": "pam", "pve-groupid": "admins", "pve-roleid": "PVEAdmin",
    "pve-poolid": "pool1", "ipv4": "192.0.2.10", "ipv6": "2001:db8::10", "ip": "192.0.2.10",
    "CIDR": "192.0.2.0/24", "CIDRv4": "192.0.2.0/24", "CIDRv6": "2001:db8::/64",
    "mac-addr": "BC:24:11:00:00:01", "pve-volume-id": "local:iso/debian-12.iso", "email": "root@example.com",
    "dns-name": "pve1.example.com", "address": "192.0.2.10", "pve-iface": "vmbr0", "pve-tokenid": "root@pam!ci",
}
_BY_NAME: Mapping[str, Any] = {
    "node": "pve1", "vmid": 100, "storage": "local", "status": "ok", "type": "qemu", "name": "vm100",
    "version": "9.2.0", "release": "9.2", "repoid": "2b8a0d4c", "digest": "da39a3ee5e6b4b0d3255bfef95601890afd80709",
    "userid": "root@pam", "username": "root@pam", "id": "1", "uptime": 86400, "cpu": 0.02, "maxcpu": 4,
    "mem": 2147483648, "maxmem": 8589934592, "disk": 0, "maxdisk": 34359738368, "exitstatus": "OK",
    "upid": "UPID:pve1:00001234:00ABCDEF:67000000:generic::root@pam:", "comment": "", "description": "",
    "path": "/", "iface": "vmbr0", "volid": "local:iso/debian-12.iso", "format": "raw", "size": 34359738368,
    "content": "images", "enabled": 1, "active": 1, "total": 107374182400, "used": 10737418240,
    "avail": 96636764160, "roleid": "PVEAdmin", "groupid": "admins", "poolid": "pool1", "realm": "pam",
    "subdir": "status", "data": "", "ticket": "", "tokenid": "ci", "level": "", "ip": "192.0.2.10",
}


def sample(
    schema: Node | Mapping[str, Any] | None, name: str = "", context: Mapping[str, str] | None = None
) -> Any:
    """A value for ``schema``; ``context`` (the path parameters) wins for names it has."""
    if not schema:
        return None
    return _sample(schema if isinstance(schema, Node) else read(schema), name, context or {})


def _sample(node: Node, name: str, context: Mapping[str, str]) -> Any:
    if not node.source:
        return None  # an empty schema says nothing to make a value of
    if name in context:
        value: Any = context[name]
        return int(value) if node.type == "integer" and str(value).isdigit() else value
    kind = node.type
    if kind == "null":
        return None
    if kind == "array":
        return [_sample(node.items, name, context)] if node.items is not None else []
    if kind == "object" or node.properties is not None:
        return {k: _sample(v, k, context) for k, v in (node.properties or {}).items()}
    if node.enum:
        return "stopped" if "stopped" in node.enum else node.enum[0]
    if kind == "boolean":
        return 1 if node.default is None or truthy(node.default) else 0
    if kind in ("integer", "number"):
        return _number(node, name, kind)
    return _string(node, name)


def _number(node: Node, name: str, kind: str) -> int | float:
    preset = _BY_NAME.get(name)
    if isinstance(preset, int | float) and not isinstance(preset, bool):
        return preset if kind == "number" else int(preset)
    default = node.default
    if default is not None:
        try:
            return float(default) if kind == "number" else int(float(default))
        except ValueError:
            pass
    if node.minimum is not None:
        return node.minimum.value if kind == "number" else int(node.minimum.value)
    return 0.0 if kind == "number" else 1


def _string(node: Node, name: str) -> str:
    fmt = node.format
    if isinstance(fmt, str) and fmt.removesuffix("-list") in _BY_FORMAT:
        return _BY_FORMAT[fmt.removesuffix("-list")]
    preset = _BY_NAME.get(name)
    if preset is not None:
        return str(preset)
    if node.default is not None:
        return str(node.default)
    return f"{name or 'value'}-{hashlib.sha1(name.encode(), usedforsecurity=False).hexdigest()[:6]}"
