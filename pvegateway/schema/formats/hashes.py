"""Named property-string (hash) formats that the apidoc only references by name.

The definitions live in :mod:`._hash_qemu` (qemu-server) and :mod:`._hash_misc` (storage,
backup, access control, remote migration, SDN); this module gathers them for the registry.

* ``HASH_FORMATS``: format name -> ``{key: subschema}`` in PVE's own schema dialect;
* ``HASH_VALIDATORS``: post-validators the sources register with the format (they receive the
  parsed hash and raise :class:`FormatError` with PVE's exact text);
* ``FORMATS``: names from the same work list that turned out to be code formats
  (``pve-lxc-mp-string``, ``pve-lxc-dev-string``).

The definitions follow PVE 9.2. The one 9.1.11 difference among these names: ``pve-vm-cpu-conf``
has no ``level`` key there, and its ``reported-model``/cputype list is shorter.
"""

from __future__ import annotations

from typing import Any

from . import CodeFormat, HashValidator
from ._hash_misc import MISC_CODE_FORMATS, MISC_HASH_FORMATS, MISC_HASH_VALIDATORS
from ._hash_qemu import QEMU_HASH_FORMATS, QEMU_HASH_VALIDATORS, set_custom_cpu_models

__all__ = ["FORMATS", "HASH_FORMATS", "HASH_VALIDATORS", "set_custom_cpu_models"]

HASH_FORMATS: dict[str, dict[str, dict[str, Any]]] = {**QEMU_HASH_FORMATS, **MISC_HASH_FORMATS}
HASH_VALIDATORS: dict[str, HashValidator] = {**QEMU_HASH_VALIDATORS, **MISC_HASH_VALIDATORS}
FORMATS: dict[str, CodeFormat] = dict(MISC_CODE_FORMATS)
