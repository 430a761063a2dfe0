"""PVE's JSON-schema dialect as JSON Schema 2020-12; what JSON Schema cannot say stays in ``x-pve-*``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..schema import dialect
from ..schema.dialect import Node
from ..schema.perl import truthy

JSONDict = dict[str, Any]


_SCALAR_TYPES = frozenset(("string", "integer", "number", "array", "object", "null"))


def _number(value: Any) -> int | float | None:
    """An ``enum`` or ``default`` value as a JSON number, when it is one or a string that reads as one."""
    read = dialect.bound(value)
    return None if read is None else read.number


def plain(value: Any) -> Any:
    """A JSON-encodable deep copy: the document shares nothing with the operations."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


class Converter:
    """PVE dialect -> JSON Schema 2020-12, memoised by the identity of the source mapping.

    The expanded ``net0`` .. ``net31`` keys share one source schema, so they share one result too.
    Results are shared between places in the document: never mutate one after it was returned.
    """

    def __init__(self) -> None:
        self._read: dialect.Memo = {}  # also keeps every source alive, so ids stay unique
        self._memo: dict[int, JSONDict] = {}

    def convert(self, source: Any) -> JSONDict:
        if not _is_mapping(source):
            return {}
        return self._node(dialect.read(source, self._read))

    def _node(self, node: Node) -> JSONDict:
        key = id(node)  # nodes live as long as self._read
        cached = self._memo.get(key)
        if cached is None:
            cached = self._memo[key] = self._convert(node)
        return cached

    def _convert(self, node: Node, property_key: bool = False) -> JSONDict:
        out: JSONDict = {}
        pve_type = node.type
        is_bool = pve_type == "boolean"
        if is_bool:
            out["type"] = "integer"
            out["enum"] = [0, 1]
            out["x-pve-type"] = "boolean"
        elif isinstance(pve_type, str) and pve_type in _SCALAR_TYPES:
            out["type"] = pve_type
        elif isinstance(pve_type, str) and "|" in pve_type:
            types = [t for t in pve_type.split("|") if t in _SCALAR_TYPES]
            if types:
                out["type"] = types
        # "any" or missing: no type constraint
        out_type = out.get("type")
        # PVE keys kept as they are or under an ``x-pve-`` name (strings only)
        if node.description:
            out["description"] = node.description
        if node.title:
            out["title"] = node.title
        if node.typetext:
            out["x-pve-typetext"] = node.typetext
        if node.pattern is not None:
            out["x-pve-pattern"] = node.pattern.source
        if node.format_description:
            out["x-pve-format-description"] = node.format_description
        if node.alias:
            out["x-pve-alias"] = node.alias
        if node.key_alias:
            out["x-pve-key-alias"] = node.key_alias
        if isinstance(node.requires, str):
            out["x-pve-requires"] = node.requires
        if node.type_property:
            out["x-pve-type-property"] = node.type_property
        if isinstance(node.format, dialect.PropertyString):
            out["x-pve-property-string"] = {k: self._convert(v, True) for k, v in node.format.keys.items()}
        elif node.format is not None:
            out["x-pve-format"] = node.format
        for name, bound in (("minimum", node.minimum), ("maximum", node.maximum),
                            ("minLength", node.min_length), ("maxLength", node.max_length)):
            if bound is not None:
                out[name] = bound.number
        if node.enum and not is_bool:
            out["enum"] = [_coerce(out_type, v) for v in node.enum]
        if node.items is not None:
            out["items"] = self._node(node.items)
        if node.properties is not None:
            out["properties"] = {k: self._node(v) for k, v in node.properties.items()}
            if node.properties.required:
                out["required"] = list(node.properties.required)
        if node.additional is not None:
            out["additionalProperties"] = (
                self._node(node.additional) if isinstance(node.additional, Node) else node.additional
            )
        if node.default_key:
            out["x-pve-default-key"] = True
        if node.one_of:
            # The variants overlap (they differ by the value of a sibling property), so anyOf.
            out["anyOf"] = [self._node(v) for v in node.one_of]
        if node.instance_types is not None:
            out["x-pve-instance-types"] = list(node.instance_types)
        # any other key is PVE-internal (GUI hints, links, typos): dropped
        default = node.default
        if default is not None:
            default = _coerce("boolean" if is_bool else out_type, default)
            # OpenAPI tools check defaults against the schema; PVE sometimes documents them in prose.
            out["default" if _default_fits(out, default) else "x-pve-default"] = default
        if property_key and node.required:
            out["x-pve-required"] = True
        return out


def _is_mapping(value: Any) -> bool:
    return isinstance(value, dict) or isinstance(value, Mapping)  # noqa: SIM101 (dict: fast path)


def is_required(schema: Any) -> bool:
    """Whether PVE reports the value missing when absent (:func:`.dialect.required`)."""
    return _is_mapping(schema) and dialect.required(schema)


def _coerce(json_type: Any, value: Any) -> Any:
    """An ``enum`` or ``default`` value in the JSON type of its schema."""
    if json_type == "boolean":
        return 1 if truthy(value) else 0
    if json_type in ("integer", "number"):
        number = _number(value)
        return value if number is None else number
    if json_type == "string" and isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


def _default_fits(schema: JSONDict, value: Any) -> bool:
    """Whether ``value`` satisfies the keywords of ``schema`` that a default could break."""
    json_type = schema.get("type")
    if isinstance(json_type, str) and not _TYPE_CHECKS[json_type](value):
        return False
    if "enum" in schema and value not in schema["enum"]:
        return False
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            return False
        if "maximum" in schema and value > schema["maximum"]:
            return False
    if isinstance(value, str):
        if "minLength" in schema and len(value) < schema["minLength"]:
            return False
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            return False
    return True


_TYPE_CHECKS: Mapping[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
    "null": lambda v: v is None,
}
