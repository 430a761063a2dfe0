"""``pvegateway apidoc list``: which schema versions this installation can serve, and in what state.

Before choosing ``--apidoc`` (or diffing two versions) an operator wants to know what is really on disk:
the pinned versions (``sources.json``) and imported ones (``local.json``), whether each file is there and
still matches its pin, how many operations it has, and which one ``serve`` uses by default.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .loader import walk
from .sources import Resolved, SchemaError, apidoc_dir, load_tree, manifest, sha256


@dataclass(frozen=True, slots=True)
class Installed:
    version: str
    file: Path
    origin: str  # "pinned" (sources.json) | "imported" (local.json)
    state: str  # "installed" | "missing" | "modified" (sha256 differs from the pin) | "unreadable"
    default: bool
    sha256: str | None  # of the file on disk
    pinned_sha256: str | None
    operations: int | None
    nodes: int | None

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version, "default": self.default, "state": self.state, "origin": self.origin,
            "operations": self.operations, "nodes": self.nodes, "sha256": self.sha256,
            "pinned_sha256": self.pinned_sha256, "file": str(self.file),
        }


def version_key(name: str) -> tuple[tuple[int, int | str], ...]:
    """9.1.11 < 9.2 < 9.10; non-numeric parts sort after numbers."""
    return tuple((0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"[.\-_]", name))


def _count(name: str, path: Path) -> tuple[int, int] | None:
    """(operations, tree nodes) of one file, counted the way the loader counts them."""
    try:
        tree = load_tree(Resolved(name, path))
    except SchemaError:
        return None
    nodes = operations = 0
    for node in walk(tree):
        nodes += 1
        operations += len(node.get("info") or {})
    return operations, nodes


def _entry(name: str, info: dict[str, Any], directory: Path, default: str, imported: set[str]) -> Installed:
    path = directory / str(info["file"])
    pinned = info.get("sha256")
    origin = "imported" if name in imported else "pinned"
    if not path.exists():
        return Installed(name, path, origin, "missing", name == default, None, pinned, None, None)
    digest = sha256(path.read_bytes())
    state = "installed" if pinned in (None, digest) else "modified"
    if state == "installed" and isinstance(info.get("operations"), int) and isinstance(info.get("nodes"), int):
        counts: tuple[int, int] | None = (info["operations"], info["nodes"])  # recorded for these exact bytes
    else:
        counts = _count(name, path)
        if counts is None:
            state = "unreadable"
    operations, nodes = counts if counts else (None, None)
    return Installed(name, path, origin, state, name == default, digest, pinned, operations, nodes)


def installed_versions(directory: Path | None = None) -> tuple[str, list[Installed]]:
    """(the default version, every known version in version order)."""
    directory = directory or apidoc_dir()
    info = manifest(directory)
    versions: dict[str, Any] = info.get("versions", {})
    pinned = manifest(directory, local_imports=False).get("versions", {})
    imported = {name for name in versions if pinned.get(name) != versions[name]}  # local.json adds or overrides
    default = str(info.get("default", "9.2"))
    entries = [_entry(name, versions[name], directory, default, imported) for name in versions]
    return default, sorted(entries, key=lambda entry: version_key(entry.version))


def to_json(directory: Path, default: str, entries: list[Installed]) -> dict[str, Any]:
    return {"directory": str(directory), "default": default, "versions": [e.to_json() for e in entries]}


def render_text(directory: Path, default: str, entries: list[Installed]) -> str:
    rows = [("VERSION", "STATE", "OPS", "NODES", "SHA256", "ORIGIN", "FILE")]
    for e in entries:
        rows.append((
            e.version + (" *" if e.default else ""), e.state,
            "-" if e.operations is None else str(e.operations), "-" if e.nodes is None else str(e.nodes),
            (e.sha256 or "-")[:12], e.origin, str(e.file),
        ))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    lines = [f"apidoc directory {directory}; * marks the default ({default})"]
    for row in rows:
        cells = [cell.rjust(width) if i in (2, 3) else cell.ljust(width)  # counts align right
                 for i, (cell, width) in enumerate(zip(row[:-1], widths, strict=True))]
        lines.append("  ".join([*cells, row[-1]]))
    return "\n".join(lines) + "\n"
