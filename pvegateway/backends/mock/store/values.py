"""What a write keeps: its parameters, typed by their schema, the way PVE's parsers read them back.

PVE keeps configuration as text and answers the parsed values; its JSON carries integers and
booleans as numbers, so the store keeps ``"1400"`` for an integer parameter as ``1400`` and a boolean
as ``0``/``1``. Secrets (passwords, tokens) go to PVE's private files, never into an answer.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

from ....apidoc.operation import Operation
from ....schema.perl import split_list, truthy

# never kept with the options: bookkeeping, and what PVE writes to /etc/pve/priv instead
NOT_KEPT = frozenset({"digest", "delete", "lock-token", "password", "token", "secret", "check-connection"})


def typed(schema: Any, value: Any) -> Any:
    kind = schema.get("type") if isinstance(schema, Mapping) else None
    if isinstance(value, str):
        if kind == "integer" and value.lstrip("+-").isdigit():
            return int(value)
        if kind == "number":
            try:
                return float(value) if "." in value or "e" in value.lower() else int(value)
            except ValueError:
                return value
        if kind == "boolean":
            return 1 if truthy(value) else 0
    return value


def kept(op: Operation, params: Mapping[str, Any], skip: Iterable[str] = ()) -> dict[str, Any]:
    """The options a write keeps: every given parameter but the path's, ``skip`` and bookkeeping."""
    props = op.parameters.get("properties") or {}
    left_out = NOT_KEPT | set(op.path_params) | set(skip)
    return {k: typed(props.get(k), v) for k, v in params.items() if k not in left_out and v is not None}


def deleted(params: Mapping[str, Any]) -> list[str]:
    """The keys ``delete`` names: a PVE list string (``a,b c;d``), or an array (notification targets')."""
    value = params.get("delete")
    if isinstance(value, list):
        return [str(v) for v in value]
    return split_list(str(value or ""))


def options_digest(options: Mapping[str, Any]) -> str:
    """pve-firewall src/PVE/Firewall.pm:1233-1251 copy_opject_with_digest: SHA1 over ``key:value`` lines
    in key order (a change check, not a secret)."""
    sha = hashlib.sha1(usedforsecurity=False)
    for key in sorted(options):
        if options[key] is not None and not isinstance(options[key], dict | list):
            sha.update(f"{key}:{options[key]}\n".encode())
    return sha.hexdigest()


def list_digest(entries: Iterable[Mapping[str, Any]]) -> str:
    """pve-firewall src/PVE/Firewall.pm:1253-1281 copy_list_with_digest: one SHA1 over every entry's
    ``key:value`` lines."""
    sha = hashlib.sha1(usedforsecurity=False)
    for entry in entries:
        for key in sorted(entry):
            if entry[key] is not None and not isinstance(entry[key], dict | list):
                sha.update(f"{key}:{entry[key]}\n".encode())
    return sha.hexdigest()


def section_digest(section: Mapping[str, Mapping[str, Any]]) -> str:
    """A section-config file's digest (SHA1 of the file, pve-common SectionConfig.pm parse_config): the
    whole collection's, so any change to any item changes it."""
    sha = hashlib.sha1(usedforsecurity=False)
    for ident, options in section.items():
        sha.update(f"{ident}\n".encode())
        for key in sorted(options):
            sha.update(f"\t{key} {options[key]}\n".encode())
    return sha.hexdigest()
