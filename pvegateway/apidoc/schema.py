"""A loaded apidoc tree: the domain object every part of the gateway is built from."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .loader import load_operations
from .operation import Operation
from .sources import load_tree, resolve


@dataclass(frozen=True, slots=True)
class Schema:
    """Its name, node count, operations and the file it was read from.

    ``operations`` is every operation the API serves, in tree order after ``GET /``: the tree's own
    (675 in PVE 9.2) and the index PVE serves from API2.pm outside the dumped tree."""

    version: str
    nodes: int
    operations: Sequence[Operation]
    source: Path | None = None


def load_schema(apidoc: str | os.PathLike[str] | None = None) -> Schema:
    """A version name from the installed manifest, or a path to a JSON tree or apidoc.js."""
    resolved = resolve(apidoc)
    nodes, operations = load_operations(load_tree(resolved))
    return Schema(resolved.name, nodes, operations, resolved.path)
