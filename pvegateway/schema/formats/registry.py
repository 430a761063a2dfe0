"""All registered formats, gathered once from the family modules."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from . import (
    CodeFormat,
    HashFormat,
    HashValidator,
    access,
    cluster,
    common,
    firewall,
    guests,
    hashes,
    storage,
)

_FAMILIES: tuple[Any, ...] = (common, access, cluster, storage, firewall, guests, hashes)


def _gather() -> tuple[dict[str, CodeFormat], dict[str, HashFormat], dict[str, HashValidator]]:
    code: dict[str, CodeFormat] = {}
    hashed: dict[str, HashFormat] = {}
    validators: dict[str, HashValidator] = {}
    for module in _FAMILIES:
        for name, fn in getattr(module, "FORMATS", {}).items():
            if name in code:
                raise RuntimeError(f"format {name!r} registered twice")
            code[name] = fn
        hashed.update(getattr(module, "HASH_FORMATS", {}))
        validators.update(getattr(module, "HASH_VALIDATORS", {}))
    return code, hashed, validators


_code, _hashed, _validators = _gather()
CODE_FORMATS: MappingProxyType[str, CodeFormat] = MappingProxyType(_code)
HASH_FORMATS: MappingProxyType[str, HashFormat] = MappingProxyType(_hashed)
HASH_VALIDATORS: MappingProxyType[str, HashValidator] = MappingProxyType(_validators)
