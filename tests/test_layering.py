"""The package's import graph: no cycles between modules, and only the entry points import the app.

Read from the source with ``ast``, so every import counts: those under ``if TYPE_CHECKING:`` and those
inside functions too (a lazy import hides a cycle from the interpreter, not from a reader).
"""

from __future__ import annotations

import ast
import itertools
from collections.abc import Iterator, Mapping
from pathlib import Path

import pvegateway

PACKAGE = Path(pvegateway.__file__).parent
APP = "pvegateway.app"
# the entry points: they compose the app, everything else is composed by it
APP_IMPORTERS = frozenset({"pvegateway", "pvegateway.cli", "pvegateway.testing"})


def _module_name(path: Path) -> str:
    parts = ["pvegateway", *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _base(module: str, is_package: bool, level: int, target: str | None) -> str:
    """What ``from <level dots><target> import ...`` names, as an absolute module name."""
    if level == 0:
        return target or ""
    parts = module.split(".")
    anchor = parts if is_package else parts[:-1]  # a package's own ``.`` is itself
    anchor = anchor[: len(anchor) - (level - 1)]
    return ".".join([*anchor, target] if target else anchor)


def imports(module: str, path: Path, known: Mapping[str, Path]) -> Iterator[tuple[str, int]]:
    """The package's modules ``module`` imports, with the line of each import."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in known:
                    yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = _base(module, is_package, node.level, node.module)
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                if submodule in known:  # ``from . import x``: the module x
                    yield submodule, node.lineno
                elif base in known:
                    yield base, node.lineno


def graph() -> dict[str, dict[str, int]]:
    known = modules()
    edges: dict[str, dict[str, int]] = {}
    for module, path in known.items():
        targets = edges.setdefault(module, {})
        for target, line in imports(module, path, known):
            if target != module:
                targets.setdefault(target, line)
    return edges


def cycles(edges: Mapping[str, Mapping[str, int]]) -> list[list[str]]:
    """One cycle (``a -> b -> ... -> a``) in each strongly connected group of modules (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(edges.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group: list[str] = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return [_a_cycle(edges, set(group), group[0]) for group in groups]


def _a_cycle(edges: Mapping[str, Mapping[str, int]], group: set[str], start: str) -> list[str]:
    """The shortest way from ``start`` back to itself inside its group (breadth first)."""
    came_from: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following: list[str] = []
        for node in frontier:
            for target in sorted(edges[node]):
                if target not in group:
                    continue
                if target == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(came_from[path[-1]])
                    return [start, *reversed(path[:-1]), start]
                if target not in came_from:
                    came_from[target] = node
                    following.append(target)
        frontier = following
    raise AssertionError(f"{start} is in a group without a cycle")  # pragma: no cover


def _described(edges: Mapping[str, Mapping[str, int]], cycle: list[str]) -> str:
    steps = [f"{a} (line {edges[a][b]})" for a, b in itertools.pairwise(cycle)]
    return " -> ".join([*steps, cycle[-1]])


def test_the_reader_sees_every_kind_of_import() -> None:
    """TYPE_CHECKING, function-local and ``from . import x`` imports are all edges."""
    edges = graph()
    assert "pvegateway.app" in edges["pvegateway"]  # under TYPE_CHECKING and inside __getattr__
    assert "pvegateway.schema.propstring" in edges["pvegateway.schema.checker"]  # ``from . import propstring``
    assert "pvegateway.schema.messages" in edges["pvegateway.schema.checker"]  # ``from . import messages as msg``
    assert "pvegateway.schema.dialect" in edges["pvegateway.schema.propstring"]  # ``from .dialect import ...``
    assert cycles({"a": {"b": 1}, "b": {"c": 2}, "c": {"a": 3}, "d": {"a": 4}}) == [["a", "b", "c", "a"]]


def test_no_import_cycles_between_modules() -> None:
    edges = graph()
    found = [_described(edges, cycle) for cycle in cycles(edges)]
    assert not found, "import cycles:\n" + "\n".join(found)


def test_only_the_entry_points_import_the_app() -> None:
    """The rest of the package is composed by pvegateway.app, and gets the schema from
    pvegateway.apidoc.schema (Schema, load_schema), never from the composition root."""
    edges = graph()
    importers = sorted(f"{module} (line {targets[APP]})" for module, targets in edges.items()
                       if APP in targets and module not in APP_IMPORTERS)
    assert not importers, f"{APP} imported by: " + ", ".join(importers)
