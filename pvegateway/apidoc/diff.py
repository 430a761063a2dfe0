"""``pvegateway apidoc diff A B``: what a PVE upgrade changes in the API, operation by operation.

Upgrading a cluster (or the schema the gateway validates against) changes which requests are valid. This
compares two loaded schemas and says which operations appeared or went away and, for operations in both,
which parameters were added, removed or changed and how, plus changes to ``returns``, ``permissions`` and
the operation's flags (``protected``, ``proxyto``, ...). Descriptions and other prose (``description``,
``verbose_description``, ``format_description``, ``typetext``, ``title``) are ignored unless asked for:
PVE rewords them every release and they change nothing a client sends.

Parameters are compared as PVE enforces them (after the loader's fix-ups), with indexed families folded
back into one entry: ``net0`` .. ``net31`` with one shared schema is reported as ``net[n]``, and a change
of its range as the ``indexes`` field.

JSON (``--json``), format 1; field paths are dotted (``format.model``, ``items.properties.vmid.type``)::

    {"format": 1, "descriptions": false,
     "from": {"version": "9.1.11", "operations": 650}, "to": {"version": "9.2", "operations": 676},
     "summary": {"added": 26, "removed": 0, "changed": 109,
                 "parameters_added": 36, "parameters_removed": 3, "parameters_changed": 89},
     "added":   [{"method": "GET", "path": "/cluster/qemu", "name": "index"}, ...],
     "removed": [...same shape...],
     "changed": [{"method": "POST", "path": "/nodes/{node}/qemu",
                  "parameters": {"added":   [{"name": "foo", "required": false, "schema": {...}}],
                                 "removed": [{"name": "bar", "required": true, "schema": {...}}],
                                 "changed": [{"name": "net[n]", "changes": [CHANGE, ...]}]},
                  "changes": [CHANGE, ...]}]}       # returns.*, permissions.*, parameters.*, flags

    CHANGE = {"field": F, "kind": "changed", "before": X, "after": Y}
           | {"field": F, "kind": "added", "after": Y} | {"field": F, "kind": "removed", "before": X}
           | {"field": F, "kind": "enum", "added": [...], "removed": [...]}

``optional`` is always reported as ``kind: changed`` with booleans (absent means required); an absent
flag (``proxyto``) is ``null``. ``oneOf`` alternatives are paired by their ``instance-types``
(``oneOf[ospf].items.enum``), else by position. Lists are sorted by path then method, parameters and
fields by name, so the output is stable.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..schema.perl import truthy

if TYPE_CHECKING:
    from ..apidoc.schema import Schema
    from .operation import Operation

DESCRIPTIVE = frozenset({"description", "verbose_description", "format_description", "typetext", "title"})
# Keywords whose value maps names to schemas: their keys are names, not keywords.
_NAME_MAPS = frozenset({"properties", "format"})
_FLAGS = ("name", "protected", "allowtoken", "proxyto", "download_allowed", "expose_credentials")
_METHOD_ORDER = {"GET": 0, "POST": 1, "PUT": 2, "DELETE": 3}
_INDEXED = re.compile(r"^(.*\D)(\d+)$")
_MISSING: Any = object()
_TEXT_WIDTH = 160


@dataclass(frozen=True, slots=True)
class Change:
    """One difference at a dotted field path; see the module docstring for the JSON shape."""

    field: str
    kind: str  # "changed" | "added" | "removed" | "enum"
    before: Any = None
    after: Any = None
    values_added: tuple[Any, ...] = ()
    values_removed: tuple[Any, ...] = ()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"field": self.field, "kind": self.kind}
        if self.kind == "enum":
            out["added"] = list(self.values_added)
            out["removed"] = list(self.values_removed)
        else:
            if self.kind != "added":
                out["before"] = self.before
            if self.kind != "removed":
                out["after"] = self.after
        return out


@dataclass(frozen=True, slots=True)
class ParameterDiff:
    name: str
    kind: str  # "added" | "removed" | "changed"
    schema: Mapping[str, Any] = field(default_factory=dict)  # added: the new schema; removed: the old one
    changes: tuple[Change, ...] = ()


@dataclass(frozen=True, slots=True)
class OperationDiff:
    method: str
    path: str
    parameters: tuple[ParameterDiff, ...]
    changes: tuple[Change, ...]


@dataclass(frozen=True, slots=True)
class OperationRef:
    method: str
    path: str
    name: str


@dataclass(frozen=True, slots=True)
class SchemaDiff:
    before: str
    after: str
    before_operations: int
    after_operations: int
    descriptions: bool
    added: tuple[OperationRef, ...]
    removed: tuple[OperationRef, ...]
    changed: tuple[OperationDiff, ...]

    def parameter_count(self, kind: str) -> int:
        return sum(1 for op in self.changed for param in op.parameters if param.kind == kind)


# --- comparing schemas -------------------------------------------------------------------------------


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def schema_changes(before: Mapping[str, Any], after: Mapping[str, Any], prefix: str = "",
                   *, descriptions: bool = False) -> list[Change]:
    """Differences between two PVE JSON schemas (a parameter, a ``returns``, a ``permissions``)."""
    changes: list[Change] = []
    for key in sorted(set(before) | set(after)):
        if key in DESCRIPTIVE and not descriptions:
            continue
        where = _join(prefix, key)
        if key == "optional":
            was, now = truthy(before.get(key)), truthy(after.get(key))
            if was != now:
                changes.append(Change(where, "changed", was, now))
            continue
        old, new = before.get(key, _MISSING), after.get(key, _MISSING)
        if old == new:
            continue
        if old is _MISSING:
            changes.append(Change(where, "added", after=new))
        elif new is _MISSING:
            changes.append(Change(where, "removed", before=old))
        elif key == "enum" and isinstance(old, list) and isinstance(new, list):
            changes.append(Change(where, "enum", values_added=tuple(v for v in new if v not in old),
                                  values_removed=tuple(v for v in old if v not in new)))
        elif key in _NAME_MAPS and isinstance(old, Mapping) and isinstance(new, Mapping):
            changes.extend(_map_changes(old, new, where, descriptions))
        elif isinstance(old, Mapping) and isinstance(new, Mapping):  # items, additionalProperties
            changes.extend(schema_changes(old, new, where, descriptions=descriptions))
        elif (alternatives := _alternatives(old, new)) is not None:  # oneOf
            changes.extend(_map_changes(*alternatives, where, descriptions, brackets=True))
        else:
            changes.append(Change(where, "changed", old, new))
    return changes


def _alternatives(before: Any, after: Any) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """Two lists of schemas (``oneOf``) keyed for pairing: by their ``instance-types`` when every
    alternative names them, else by position when the lengths match; None when they cannot be paired."""
    lists = (before, after)
    if not all(isinstance(items, list) and all(isinstance(i, Mapping) for i in items) for items in lists):
        return None
    keyed = [{",".join(map(str, item.get("instance-types") or ())): item for item in items} for items in lists]
    if all(len(keys) == len(items) and "" not in keys for keys, items in zip(keyed, lists, strict=True)):
        return keyed[0], keyed[1]
    if len(before) == len(after):
        return {str(i): item for i, item in enumerate(before)}, {str(i): item for i, item in enumerate(after)}
    return None


def _map_changes(before: Mapping[str, Any], after: Mapping[str, Any], prefix: str,
                 descriptions: bool, *, brackets: bool = False) -> Iterator[Change]:
    for name in sorted(set(before) | set(after)):
        where = f"{prefix}[{name}]" if brackets else _join(prefix, name)
        if name not in before:
            yield Change(where, "added", after=after[name])
        elif name not in after:
            yield Change(where, "removed", before=before[name])
        elif isinstance(before[name], Mapping) and isinstance(after[name], Mapping):
            yield from schema_changes(before[name], after[name], where, descriptions=descriptions)
        elif before[name] != after[name]:
            yield Change(where, "changed", before[name], after[name])


def fold_indexed(properties: Mapping[str, Any]) -> dict[str, tuple[Mapping[str, Any], int | None]]:
    """``net0`` .. ``net31`` sharing one schema become ``net[n]`` (with their count), as PVE writes them."""
    families: dict[str, list[tuple[int, str]]] = {}
    for name in properties:
        match = _INDEXED.match(name)
        if match:
            families.setdefault(match.group(1), []).append((int(match.group(2)), name))
    folded: dict[str, str] = {}  # member name -> family
    for family, members in families.items():
        indexes = sorted(index for index, _name in members)
        schemas = [properties[name] for _index, name in members]
        if len(members) > 1 and indexes == list(range(len(members))) and all(s == schemas[0] for s in schemas):
            folded.update((name, family) for _index, name in members)
    out: dict[str, tuple[Mapping[str, Any], int | None]] = {}
    for name, schema in properties.items():
        owner = folded.get(name)
        if owner is None:
            out[name] = (schema, None)
        elif f"{owner}[n]" not in out:
            out[f"{owner}[n]"] = (schema, len(families[owner]))
    return out


def _parameters(op: Operation) -> dict[str, tuple[Mapping[str, Any], int | None]]:
    return fold_indexed(op.parameters.get("properties") or {})


def _parameter_diffs(before: Operation, after: Operation, descriptions: bool) -> list[ParameterDiff]:
    old, new = _parameters(before), _parameters(after)
    diffs: list[ParameterDiff] = []
    for name in sorted(set(old) | set(new)):
        if name not in old:
            diffs.append(ParameterDiff(name, "added", new[name][0]))
        elif name not in new:
            diffs.append(ParameterDiff(name, "removed", old[name][0]))
        else:
            (old_schema, old_count), (new_schema, new_count) = old[name], new[name]
            changes = schema_changes(old_schema, new_schema, descriptions=descriptions)
            if old_count != new_count:
                changes.insert(0, Change("indexes", "changed", old_count, new_count))
            if changes:
                diffs.append(ParameterDiff(name, "changed", changes=tuple(changes)))
    return diffs


def _operation_changes(before: Operation, after: Operation, descriptions: bool) -> list[Change]:
    changes: list[Change] = []
    for flag in _FLAGS:
        old, new = getattr(before, flag), getattr(after, flag)
        if old != new:
            changes.append(Change(flag, "changed", old, new))
    if descriptions and before.description != after.description:
        changes.append(Change("description", "changed", before.description, after.description))
    outer_old = {k: v for k, v in before.parameters.items() if k != "properties"}
    outer_new = {k: v for k, v in after.parameters.items() if k != "properties"}
    changes += schema_changes(outer_old, outer_new, "parameters", descriptions=descriptions)
    changes += schema_changes(before.returns, after.returns, "returns", descriptions=descriptions)
    changes += schema_changes(before.permissions or {}, after.permissions or {}, "permissions",
                              descriptions=descriptions)
    return changes


def _order(key: tuple[str, str]) -> tuple[str, int, str]:
    method, path = key
    return path, _METHOD_ORDER.get(method, len(_METHOD_ORDER)), method


def diff_operations(before: Iterable[Operation], after: Iterable[Operation], *,
                    descriptions: bool = False) -> tuple[list[OperationRef], list[OperationRef], list[OperationDiff]]:
    """(added, removed, changed), each sorted by path then method."""
    old = {(op.method, op.path): op for op in before}
    new = {(op.method, op.path): op for op in after}
    added = [OperationRef(m, p, new[m, p].name) for m, p in sorted(set(new) - set(old), key=_order)]
    removed = [OperationRef(m, p, old[m, p].name) for m, p in sorted(set(old) - set(new), key=_order)]
    changed: list[OperationDiff] = []
    for key in sorted(set(old) & set(new), key=_order):
        params = _parameter_diffs(old[key], new[key], descriptions)
        changes = _operation_changes(old[key], new[key], descriptions)
        if params or changes:
            changed.append(OperationDiff(key[0], key[1], tuple(params), tuple(changes)))
    return added, removed, changed


def diff_schemas(before: Schema, after: Schema, *, descriptions: bool = False) -> SchemaDiff:
    added, removed, changed = diff_operations(before.operations, after.operations, descriptions=descriptions)
    return SchemaDiff(before.version, after.version, len(before.operations), len(after.operations),
                      descriptions, tuple(added), tuple(removed), tuple(changed))


# --- output --------------------------------------------------------------------------------------------


def to_json(diff: SchemaDiff) -> dict[str, Any]:
    """The documented, stable structure (module docstring)."""
    def ref(op: OperationRef) -> dict[str, str]:
        return {"method": op.method, "path": op.path, "name": op.name}

    def params(op: OperationDiff, kind: str) -> list[dict[str, Any]]:
        chosen = [p for p in op.parameters if p.kind == kind]
        if kind == "changed":
            return [{"name": p.name, "changes": [c.to_json() for c in p.changes]} for p in chosen]
        return [{"name": p.name, "required": not truthy(p.schema.get("optional")), "schema": dict(p.schema)}
                for p in chosen]

    return {
        "format": 1,
        "descriptions": diff.descriptions,
        "from": {"version": diff.before, "operations": diff.before_operations},
        "to": {"version": diff.after, "operations": diff.after_operations},
        "summary": {
            "added": len(diff.added), "removed": len(diff.removed), "changed": len(diff.changed),
            "parameters_added": diff.parameter_count("added"),
            "parameters_removed": diff.parameter_count("removed"),
            "parameters_changed": diff.parameter_count("changed"),
        },
        "added": [ref(op) for op in diff.added],
        "removed": [ref(op) for op in diff.removed],
        "changed": [
            {"method": op.method, "path": op.path,
             "parameters": {kind: params(op, kind) for kind in ("added", "removed", "changed")},
             "changes": [c.to_json() for c in op.changes]}
            for op in diff.changed
        ],
    }


def header(diff: SchemaDiff) -> str:
    return (f"apidoc diff {diff.before} -> {diff.after}: {diff.before_operations} -> {diff.after_operations} "
            f"operations; {len(diff.added)} added, {len(diff.removed)} removed, {len(diff.changed)} changed "
            f"({diff.parameter_count('added')} parameters added, {diff.parameter_count('removed')} removed, "
            f"{diff.parameter_count('changed')} changed)")


def _is_schema(value: Any) -> bool:
    return isinstance(value, Mapping) and bool({"type", "format", "optional", "alias"} & set(value))


def summary(schema: Mapping[str, Any]) -> str:
    """``string, format pve-storage-id, optional, default 'local'``: a schema in a few words."""
    if "alias" in schema and "type" not in schema:
        return f"alias of {schema['alias']}"
    parts = [str(schema.get("type", "any"))]
    fmt = schema.get("format")
    if isinstance(fmt, str):
        parts.append(f"format {fmt}")
    elif isinstance(fmt, Mapping):
        parts.append(f"property string ({', '.join(sorted(fmt))})")
    if "enum" in schema:
        parts.append("one of " + "|".join(str(v) for v in schema["enum"]))
    parts.append("optional" if truthy(schema.get("optional")) else "required")
    if "default" in schema:
        parts.append(f"default {show(schema['default'])}")
    return _clip(", ".join(parts))


def show(value: Any) -> str:
    if value is _MISSING or value is None:
        return "(none)"
    if isinstance(value, str):
        return f"'{value}'"
    if _is_schema(value):
        return f"({summary(value)})"
    if isinstance(value, Mapping) and value and all(_is_schema(v) for v in value.values()):
        return _clip("keys " + ", ".join(sorted(value)))  # properties or a property string's keys
    return _clip(json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":")))


def _clip(text: str) -> str:
    return text if len(text) <= _TEXT_WIDTH else text[:_TEXT_WIDTH - 3] + "..."


def describe(change: Change) -> str:
    """One line for one change: ``type: 'string' -> 'integer'``, ``required -> optional``."""
    if change.field.rsplit(".", 1)[-1] == "optional":
        words = {True: "optional", False: "required"}
        where = change.field.removesuffix("optional").removesuffix(".")
        text = f"{words[bool(change.before)]} -> {words[bool(change.after)]}"
        return f"{where}: {text}" if where else text
    if change.kind == "enum":
        parts = []
        if change.values_added:
            parts.append("added " + ", ".join(str(v) for v in change.values_added))
        if change.values_removed:
            parts.append("removed " + ", ".join(str(v) for v in change.values_removed))
        return _clip(f"{change.field}: values " + "; ".join(parts or ["reordered"]))
    if change.kind == "added":
        return f"{change.field}: added {show(change.after)}"
    if change.kind == "removed":
        return f"{change.field}: removed (was {show(change.before)})"
    return f"{change.field}: {show(change.before)} -> {show(change.after)}"


def _refs(title: str, refs: Sequence[OperationRef]) -> list[str]:
    lines = [f"{title} ({len(refs)}):" if refs else f"{title}: none"]
    lines += [f"  {op.method:<7}{op.path}" for op in refs]
    return lines


def render_text(diff: SchemaDiff) -> str:
    """The readable report: a header with the counts, then added, removed and changed operations."""
    lines = [header(diff), ""]
    lines += _refs("Added operations", diff.added)
    lines.append("")
    lines += _refs("Removed operations", diff.removed)
    lines.append("")
    lines.append(f"Changed operations ({len(diff.changed)}):" if diff.changed else "Changed operations: none")
    for op in diff.changed:
        lines.append(f"  {op.method:<7}{op.path}")
        for param in op.parameters:
            if param.kind == "added":
                lines.append(f"    + parameter {param.name}: {summary(param.schema)}")
            elif param.kind == "removed":
                lines.append(f"    - parameter {param.name}: {summary(param.schema)}")
            else:
                lines.append(f"    ~ parameter {param.name}")
                lines += [f"        {describe(change)}" for change in param.changes]
        lines += [f"    ~ {describe(change)}" for change in op.changes]
    return "\n".join(lines) + "\n"
