"""Reading validated parameters in handlers: booleans and ``-list`` values, one way for every area."""

from __future__ import annotations

from typing import Any

from ....schema.perl import split_list


def flag(value: Any, default: bool = False) -> bool:
    """A validated PVE boolean (``1``/``0``, or JSON true/false); absent means ``default``."""
    if value is None:
        return default
    return str(value).lower() in ("1", "true", "yes", "on")


def id_list(value: Any) -> list[str]:
    """The items of a ``-list`` parameter, split as PVE's split_list does; arrays item by item."""
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [str(v) for v in value if str(v)]
    return [v for v in split_list(str(value)) if v]
