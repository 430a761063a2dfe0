"""Undo what PVE's apidoc dump loses or mangles (pve-common RESTHandler.pm ``api_clone_schema``;
docs/WIRE.md section 6).

Applied once per operation at load time, on a copy: the tree itself is never changed.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

log = logging.getLogger(__name__)

# Real index ranges of the numbered parameters the dump writes as ``name[n]`` (upper bound exclusive).
INDEX_RANGES: Mapping[str, int] = {
    "net": 32, "ipconfig": 32, "ide": 4, "sata": 6, "scsi": 31, "virtio": 16, "unused": 256,
    "usb": 14, "hostpci": 16, "serial": 4, "parallel": 3, "numa": 8, "virtiofs": 10,
    "mp": 256, "dev": 256, "acmedomain": 6, "link": 8,
}
_INDEXED = re.compile(r"^([a-z]+)\[n\]$")
_RANGE_IN_TEXT = re.compile(r"n is 0 to (\d+)")

# Methods declared with ``additionalProperties => 0`` and no ``properties`` at all in the sources:
# PVE runs no object check for them, so they accept any parameter. Every other "AP 0, no properties"
# in the dump lost an empty ``properties => {}`` and is strict.
OPEN_PARAMETER_METHODS = frozenset(
    {
        ("GET", "/access/ticket"),
        ("GET", "/cluster/firewall"),
        ("GET", "/cluster/firewall/options"),
        ("GET", "/cluster/firewall/macros"),
        ("GET", "/cluster/notifications/matcher-field-values"),
        ("GET", "/cluster/qemu/custom-cpu-models"),
    }
)

# Path parameters registered with ``fragmentDelimiter => ''``: they take the rest of the URI.
_GREEDY = (
    re.compile(r"/storage/\{storage\}/content/\{(volume)\}$"),
    re.compile(r"/firewall/ipset/\{name\}/\{(cidr)\}$"),
)


def greedy_param(template: str) -> str | None:
    for pattern in _GREEDY:
        match = pattern.search(template)
        if match:
            return match.group(1)
    return None


def index_count(family: str, schema: Mapping[str, Any]) -> int:
    if family in INDEX_RANGES:
        return INDEX_RANGES[family]
    match = _RANGE_IN_TEXT.search(str(schema.get("description", "")))
    if match:
        return int(match.group(1)) + 1
    log.warning("unknown indexed parameter family %r: assuming 0-31", family)
    return 32


def expand_indexed(properties: Mapping[str, Any]) -> dict[str, Any]:
    """``net[n]`` becomes ``net0`` .. ``net31``, in place of the collapsed key."""
    out: dict[str, Any] = {}
    for key, schema in properties.items():
        match = _INDEXED.match(key)
        if not match:
            out[key] = schema
            continue
        family = match.group(1)
        for index in range(index_count(family, schema)):
            out[f"{family}{index}"] = schema
    return out


def fix_parameters(method: str, template: str, parameters: Mapping[str, Any] | None) -> dict[str, Any]:
    """The parameter schema PVE really enforces for one operation."""
    schema = dict(parameters or {})
    schema.setdefault("type", "object")
    if "properties" in schema:
        schema["properties"] = expand_indexed(schema["properties"] or {})
    elif "additionalProperties" in schema and not schema["additionalProperties"]:
        if (method, template) in OPEN_PARAMETER_METHODS:
            schema.pop("additionalProperties")
        else:
            schema["properties"] = {}
    return schema
