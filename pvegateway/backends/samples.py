"""Plausible, deterministic values shaped by an operation's ``returns`` schema, each valid for it.

Every value is checked as PVE checks a parameter (:func:`..schema.checker.check_prop`: its format, a
property string key by key, its pattern, lengths, bounds and enum) and the first plausible candidate
that passes is taken: the path's own value, a known value for the format or the name, the default, an
example read off the pattern (:mod:`..schema.regex_example`).

Shaped data invents no cluster object: a list whose items would name a guest, volume, job, user,
task... comes back empty (whoever answers with real objects derives them from the cluster instead).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from typing import Any

from ..schema.checker import PVE_FORMATS, PVEValidator, check_prop
from ..schema.dialect import Node, PropertyString, named_property_string, read
from ..schema.perl import perl_str, truthy
from ..schema.regex_example import example

_CERTIFICATE = (  # a self-signed test certificate's shape: PEM armour around base64
    "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQk9HVVNDRVJUSUZJQ0FURUZPUlRFU1RTMAoGCCqGSM49\n"
    "-----END CERTIFICATE-----\n"
)
# a valid value for each registered code format a ``returns`` schema names (checked like any other)
_BY_FORMAT: Mapping[str, str] = {
    "pve-node": "pve1", "pve-vmid": "100", "pve-storage-id": "local", "pve-configid": "net0",
    "pve-userid": "root@pam", "pve-realm": "pam", "pve-groupid": "admins", "pve-roleid": "PVEAdmin",
    "pve-poolid": "pool1", "ipv4": "192.0.2.10", "ipv6": "2001:db8::10", "ip": "192.0.2.10",
    "CIDR": "192.0.2.0/24", "CIDRv4": "192.0.2.0/24", "CIDRv6": "2001:db8::/64", "FullRangeCIDR": "192.0.2.0/24",
    "IPorCIDR": "192.0.2.10", "IPorCIDRorAlias": "192.0.2.10", "ipv4mask": "255.255.255.0",
    "mac-addr": "BC:24:11:00:00:01", "pve-volume-id": "local:iso/debian-12.iso", "email": "root@example.com",
    "email-or-username": "root@example.com", "dns-name": "pve1.example.com", "address": "192.0.2.10",
    "pve-iface": "vmbr0", "pve-tokenid": "root@pam!ci", "disk-size": "32G", "urlencoded": "value",
    "pve-volume-id-or-qm-path": "local:iso/debian-12.iso", "pve-calendar-event": "daily",
    "pve-sdn-fabric-id": "fabric1", "pve-sdn-route-map-id": "map1", "pve-sdn-prefix-list-id": "list1",
    "pve-sdn-zone-id": "zone1", "pve-sdn-bgp-rt": "65000:100", "pve-sdn-isis-net": "49.0001.1921.6800.1001.00",
    "pve-sdn-wireguard-iface-name": "wg0", "pve-replication-job-id": "100-0", "pve-phys-bits": "host",
    "pve-ipv4-config": "dhcp", "pve-ipv6-config": "auto", "pve-startup-order": "order=1", "pve-tag": "prod",
    "pve-storage-content": "images", "pve-lxc-mp-string": "/mnt/data", "lxc-ip-with-ll-iface": "192.0.2.10",
    "pve-ha-resource-or-vm-id": "vm:100", "pve-cpuset": "0-3", "pve-qm-bootdev": "disk",
    "pve-qm-bootdisk": "scsi0", "pve-hotplug-features": "network,disk,usb", "pve-bridge-id": "vmbr0",
    "pve-lxc-dev-string": "/dev/null", "pve-ct-timezone": "host", "pve-vlan-id-or-range": "100",
    "pve-fw-conntrack-helper": "ftp", "pem-certificate": _CERTIFICATE, "pem-certificate-chain": _CERTIFICATE,
    "pve-acme-domain": "pve1.example.com", "pve-acme-alias": "_acme.example.com", "pve-priv": "VM.Audit",
    "timezone": "UTC", "pve-day-of-week": "sun", "mac-prefix": "BC:24:11",
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
# Formats and property names whose value names an object of the cluster (a guest, volume, job, user,
# task...): shaped data cannot know one, so lists of them are empty.
_OBJECT_FORMATS = frozenset({
    "pve-vmid", "pve-volume-id", "pve-volume-id-or-qm-path", "pve-volume-id-or-absolute-path", "pve-userid",
    "pve-tokenid", "pve-groupid", "pve-poolid", "pve-roleid", "pve-replication-job-id", "pve-storage-id",
    "pve-ha-resource-or-vm-id", "pve-ha-resource-id", "pve-sdn-zone-id", "pve-sdn-vnet-id", "pve-sdn-subnet-id",
    "pve-sdn-controller-id", "pve-sdn-ipam-id", "pve-sdn-dns-id", "pve-sdn-fabric-id", "pve-sdn-route-map-id",
    "pve-sdn-prefix-list-id",
})
_OBJECT_NAMES = frozenset({
    "vmid", "volid", "guest", "userid", "tokenid", "jobid", "upid", "sid", "storage", "poolid", "groupid",
    "roleid", "volume", "zone", "vnet",
})
_VALIDATOR = PVEValidator({}, format_checker=PVE_FORMATS)


def sample(
    schema: Node | Mapping[str, Any] | None, name: str = "", context: Mapping[str, str] | None = None
) -> Any:
    """A value for ``schema``; ``context`` (the path parameters) wins for names it has."""
    if not schema:
        return None
    return _sample(schema if isinstance(schema, Node) else read(schema), name, context or {})


def _valid(node: Node, value: Any) -> bool:
    """Whether ``value`` (as JSON decodes it) passes ``node`` as PVE checks a value, scalars read as Perl
    reads them (``5`` is the string "5")."""
    return next(check_prop(_VALIDATOR, _perl(value), node, ""), None) is None


def _perl(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _perl(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_perl(v) for v in value]
    if isinstance(value, bool):
        return "1" if value else "0"
    return value if value is None else perl_str(value)


def _sample(node: Node, name: str, context: Mapping[str, str]) -> Any:
    if not node.source:
        return None  # an empty schema says nothing to make a value of
    if node.one_of:
        return _sample(node.one_of[0], name, context)
    kind = node.type if isinstance(node.type, str) or node.type is None else \
        next((t for t in node.type if t != "null"), "string")
    if kind == "null":
        return None
    if kind == "array":
        if node.items is None or _names_objects(node.items, name):
            return []
        return [_sample(node.items, name, context)]
    if kind == "object" or node.properties is not None:
        return {k: _sample(v, k, context) for k, v in (node.properties or {}).items()}
    if node.enum:
        return "stopped" if "stopped" in node.enum else node.enum[0]
    if kind == "boolean":
        return 1 if node.default is None or truthy(node.default) else 0
    if kind in ("integer", "number"):
        return _first_valid(node, _numbers(node, name, kind, context), 1)
    return _first_valid(node, _strings(node, name, context), f"{name or 'value'}-{_tag(name)}")


def _names_objects(items: Node, name: str) -> bool:
    """Whether a list's items name cluster objects: by their format, or by a property's name or format
    (a list of plain names called ``...nodes`` or ``...resources`` names nodes or HA resources)."""
    if _base_format(items) in _OBJECT_FORMATS:
        return True
    if items.type != "object" and (name in _OBJECT_NAMES or name.endswith(("nodes", "resources"))):
        return True
    return any(key in _OBJECT_NAMES or _base_format(sub) in _OBJECT_FORMATS
               for key, sub in (items.properties or {}).items())


def _base_format(node: Node) -> str | None:
    fmt = node.format
    return fmt.removesuffix("-list").removesuffix("-opt") if isinstance(fmt, str) else None


def _first_valid(node: Node, candidates: Iterator[Any], fallback: Any) -> Any:
    for candidate in candidates:
        if candidate is not None and _valid(node, candidate):
            return candidate
    return fallback


def _numbers(node: Node, name: str, kind: str, context: Mapping[str, str]) -> Iterator[int | float]:
    def number(value: Any) -> int | float | None:
        try:
            parsed = float(value)
        except (TypeError, ValueError):
            return None
        return parsed if kind == "number" and not parsed.is_integer() else int(parsed)

    if name in context:
        yield from _some(number(context[name]))
    preset = _BY_NAME.get(name)
    if isinstance(preset, int | float) and not isinstance(preset, bool):
        yield from _some(number(preset))
    yield from _some(number(node.default))
    for bound in (node.minimum, node.maximum):
        if bound is not None:
            yield from _some(number(bound.number))


def _strings(node: Node, name: str, context: Mapping[str, str]) -> Iterator[str]:
    if name in context:
        yield str(context[name])
    fmt = node.format
    hashed = fmt if isinstance(fmt, PropertyString) else \
        named_property_string(_base_format(node) or "") if isinstance(fmt, str) else None
    if hashed is not None:
        yield from _property_strings(hashed, context)
    elif isinstance(fmt, str) and _base_format(node) in _BY_FORMAT:
        yield _BY_FORMAT[_base_format(node) or ""]
    preset = _BY_NAME.get(name)
    if preset is not None:
        yield str(preset)
    if node.default is not None:
        yield perl_str(node.default)
    if node.pattern is not None:
        yield from _some(example(node.pattern.source, repeat_once=False) or None)
        yield from _some(example(node.pattern.source))
    yield f"{name or 'value'}-{_tag(name)}"
    yield name or "value"


def _property_strings(fmt: PropertyString, context: Mapping[str, str]) -> Iterator[str]:
    """The keys a property string must have, with the defaulted ones too when those pass as well."""
    needed = {k: v for k, v in fmt.keys.items() if v.required}
    defaulted = {k: v for k, v in fmt.keys.items() if v.default is not None and v.alias is None and k not in needed}
    for keys in ({**needed, **defaulted}, needed):
        parts = []
        for key, sub in keys.items():
            value = sub.default if key not in needed and sub.default is not None else _sample(sub, key, context)
            if value is None or isinstance(value, list | dict) or "," in perl_str(value):
                break
            parts.append(f"{key}={_perl(value)}")
        else:
            yield ",".join(parts)


def _some(value: Any) -> Iterator[Any]:
    if value is not None:
        yield value


def _tag(name: str) -> str:
    return hashlib.sha1(name.encode(), usedforsecurity=False).hexdigest()[:6]
