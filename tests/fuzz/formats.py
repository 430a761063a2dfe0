"""Generation hints: PVE formats as JSON Schema ``format`` values schemathesis can generate.

``/openapi.json`` keeps PVE's formats in ``x-pve-format`` (JSON Schema cannot check them), so random
strings meet them and PVE's validator answers 400 before any handler runs: with plain strings, three
quarters of the examples never got past validation. A copy of the document gets a ``format`` for the
formats that gate most operations, drawn from the seeded cluster's objects and valid values; everything
else is generated as the document says. Perl patterns (``x-pve-pattern``) Python reads the same way
become JSON Schema ``pattern`` s, for the same reason.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import schemathesis
from hypothesis import strategies as st

PREFIX = "pvegw-"
# PVE format -> values: the seeded cluster's names first, then valid but unknown ones
_VALUES: Mapping[str, st.SearchStrategy[str]] = {
    "pve-node": st.sampled_from(["pve1", "pve2", "pve3", "pve9"]),
    "pve-storage-id": st.sampled_from(["local", "local-lvm", "nfs1"]),
    "pve-userid": st.sampled_from(["root@pam", "alice@pve", "bob@pam"]),
    "pve-realm": st.sampled_from(["pam", "pve"]),
    "pve-configid": st.from_regex(r"\A[a-z][a-z0-9_]{1,8}\Z"),
    "pve-poolid": st.from_regex(r"\A[a-z][a-z0-9_]{0,8}\Z"),
    "pve-groupid": st.from_regex(r"\A[a-z][a-z0-9_]{0,8}\Z"),
    "pve-roleid": st.from_regex(r"\A[A-Z][A-Za-z0-9]{0,8}\Z"),
    "pve-sdn-zone-id": st.from_regex(r"\A[a-z][a-z0-9]{0,6}\Z"),
    "ipv4": st.sampled_from(["192.0.2.10", "198.51.100.7"]),
    "ip": st.sampled_from(["192.0.2.10", "2001:db8::10"]),
    "CIDR": st.sampled_from(["192.0.2.0/24", "2001:db8::/64"]),
    "CIDRv4": st.just("192.0.2.0/24"),
    "email": st.just("root@example.com"),
}


def register() -> None:
    """Make the hinted formats known to schemathesis (a global registry; names are prefixed)."""
    for name, values in _VALUES.items():
        schemathesis.openapi.format(PREFIX + name, values)


def hinted(node: Any) -> Any:
    """A copy of ``node`` (a document or part of one) with ``format`` hints added."""
    if isinstance(node, list):
        return [hinted(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: hinted(value) for key, value in node.items()}
    pve_format = out.get("x-pve-format")
    if isinstance(pve_format, str) and pve_format in _VALUES and out.get("type") == "string":
        out["format"] = PREFIX + pve_format
    pattern = out.get("x-pve-pattern")
    if isinstance(pattern, str) and "pattern" not in out and out.get("type") == "string" and _python(pattern):
        out["pattern"] = rf"\A(?:{pattern})\Z"  # PVE anchors its patterns at both ends
    return out


def _python(pattern: str) -> bool:
    """Whether a Perl pattern means the same to Python's ``re`` (the simple ones PVE uses mostly do)."""
    if any(perlism in pattern for perlism in ("(?^", "\\z", "\\Z", "\\A", "(?<", "\\p", "\\h", "\\R")):
        return False
    try:
        re.compile(pattern)
    except re.error:
        return False
    return True
