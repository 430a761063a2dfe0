"""PVE's JSON-schema dialect as JSON Schema 2020-12; what JSON Schema cannot say stays in ``x-pve-*``."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ..schema.perl import truthy

if TYPE_CHECKING:
    pass

JSONDict = dict[str, Any]


_SCALAR_TYPES = frozenset(("string", "integer", "number", "array", "object", "null"))
_NUMERIC_KEYS = frozenset(("minimum", "maximum", "minLength", "maxLength", "minItems", "maxItems"))
# PVE keys kept as they are or under an ``x-pve-`` name (string values only).
_RENAMED: Mapping[str, str] = {
    "description": "description",
    "title": "title",
    "typetext": "x-pve-typetext",
    "pattern": "x-pve-pattern",
    "format_description": "x-pve-format-description",
    "alias": "x-pve-alias",
    "keyAlias": "x-pve-key-alias",
    "requires": "x-pve-requires",
    "type-property": "x-pve-type-property",
}
_SKIPPED = frozenset(("type", "optional", "verbose_description"))
_NUMBER = re.compile(r"^[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?$")


def _number(value: Any) -> int | float | None:
    """``minimum`` and friends as JSON numbers (the tree sometimes has them as strings)."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float):
        return value
    if isinstance(value, str) and _NUMBER.match(value.strip()):
        text = value.strip()
        number = float(text)
        if number.is_integer() and re.fullmatch(r"[+-]?\d+", text):
            return int(text)
        return number
    return None


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
        self._memo: dict[int, JSONDict] = {}
        self._keep: list[Mapping[str, Any]] = []

    def convert(self, source: Any) -> JSONDict:
        if not _is_mapping(source):
            return {}
        key = id(source)
        cached = self._memo.get(key)
        if cached is not None:
            return cached
        result = self._convert(source)
        self._memo[key] = result
        self._keep.append(source)  # keeps the id unique for the converter's lifetime
        return result

    def _convert(self, s: Mapping[str, Any], property_key: bool = False) -> JSONDict:
        out: JSONDict = {}
        pve_type = s.get("type")
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
        default: Any = None
        for key, value in s.items():
            if key in _SKIPPED:
                continue
            renamed = _RENAMED.get(key)
            if renamed is not None:
                if value and isinstance(value, str):
                    out[renamed] = value
            elif key == "format":
                if _is_mapping(value):
                    out["x-pve-property-string"] = {
                        str(k): self._convert(v, True) if _is_mapping(v) else {} for k, v in value.items()
                    }
                elif value and isinstance(value, str):
                    out["x-pve-format"] = value
            elif key == "default":
                default = value
            elif key in _NUMERIC_KEYS:
                number = _number(value)
                if number is not None:
                    out[key] = number
            elif key == "enum":
                if isinstance(value, list) and not is_bool:
                    values = [_coerce(out_type, v) for v in value if v is not None]
                    if values:
                        out["enum"] = values
            elif key == "items":
                if _is_mapping(value):
                    out["items"] = self.convert(value)
            elif key == "properties":
                if _is_mapping(value):
                    out["properties"] = {str(k): self.convert(v) for k, v in value.items()}
                    required = [str(k) for k, v in value.items() if is_required(v)]
                    if required:
                        out["required"] = required
            elif key == "additionalProperties":
                out[key] = self.convert(value) if _is_mapping(value) else truthy(value)
            elif key == "default_key":
                if truthy(value):
                    out["x-pve-default-key"] = True
            elif key == "oneOf":
                # The variants overlap (they differ by the value of a sibling property), so anyOf.
                if isinstance(value, list) and value:
                    out["anyOf"] = [self.convert(v) for v in value]
            elif key == "instance-types" and isinstance(value, list):
                out["x-pve-instance-types"] = [str(v) for v in value]
            # any other key is PVE-internal (GUI hints, links, typos): dropped
        if default is not None:
            default = _coerce("boolean" if is_bool else out_type, default)
            # OpenAPI tools check defaults against the schema; PVE sometimes documents them in prose.
            out["default" if _default_fits(out, default) else "x-pve-default"] = default
        if property_key and is_required(s):
            out["x-pve-required"] = True
        return out


def _is_mapping(value: Any) -> bool:
    return isinstance(value, dict) or isinstance(value, Mapping)  # noqa: SIM101 (dict: fast path)


def is_required(schema: Any) -> bool:
    """PVE reports a missing value unless it is optional, an alias, in a group, oneOf or null."""
    if not _is_mapping(schema) or schema.get("type") == "null" or "oneOf" in schema:
        return False
    return not (truthy(schema.get("optional")) or truthy(schema.get("alias")) or truthy(schema.get("group")))


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
