"""Registered PVE formats (``register_format`` in the Proxmox sources), by family.

Two kinds exist, as in PVE:

* code formats: a callable taking the value's Perl string form; it returns anything on success and
  raises :class:`FormatError` with PVE's exact ``die`` text (trailing newline included) on failure;
* hash formats: a property-string definition ``{key: subschema}`` in PVE's own schema dialect,
  optionally with a post-validator that receives the parsed dict.

``-list`` and ``-opt`` variants are derived by the checker, never registered separately.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

CodeFormat = Callable[[str], object]
HashFormat = Mapping[str, Mapping[str, Any]]
HashValidator = Callable[[dict[str, Any]], object]


class FormatError(Exception):
    """A format check failed; ``text`` is what PVE's validator dies with (usually ending in ``\\n``)."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text
