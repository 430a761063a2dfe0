"""PVE's JSON-schema dialect, read once: each (sub)schema as an immutable :class:`Node`.

The validator (:mod:`.checker`), the proxy's drift check, the OpenAPI converter and the sample
generator all walk these nodes, so each of PVE's readings is written here once: which absent values
PVE reports, Perl truthiness of flags, bounds given as strings, ``enum`` values as Perl strings, the
order of a scalar's checks, inline and named property-string formats. Line numbers are those of
pve-common ``src/PVE/JSONSchema.pm`` (PVE 9.2.1): ``check_prop`` (1507-1689), ``check_type``
(1176-1281), ``check_object`` (1297-1387), ``parse_property_string`` (1068-1149) and the schema of
schemas (1726-1965).

Reading is done once per schema (the validator on an operation's first request, the others when
they first need it); checking a request only looks at the fields.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal, NamedTuple

from .formats.registry import HASH_FORMATS
from .perl import is_number, perl_str, truthy
from .perlre import AnchoredPattern, compile_anchored

Absent = Literal["alias", "null", "optional", "group"]
"""Why an absent value is not reported (JSONSchema.pm:1575-1583)."""

# check_prop checks a scalar's keywords in this order and reports the first failure only (1628-1689).
SCALAR_ORDER = ("format", "pattern", "maxLength", "minLength", "maximum", "minimum", "enum")
# the type names check_type verifies; any other ('any', SDN's 'ip') lets every value pass (1208, 1275)
VERIFIED_TYPES = frozenset({"null", "array", "object", "coderef", "string", "boolean", "integer", "number"})
_INTEGER = re.compile(r"[+-]?\d+")


@dataclass(frozen=True, slots=True)
class Bound:
    """``minimum`` and friends: compared as numbers, printed in messages as the schema gives them
    (``value must have a maximum value of $max``, 1660); the tree has some as strings ("16777216")."""

    value: float
    text: str
    number: int | float  # as a JSON document would carry it


def bound(raw: Any) -> Bound | None:
    """A numeric keyword, or None when it is not a number nor a string that reads as one."""
    number: int | float
    if isinstance(raw, bool):
        number = int(raw)
    elif isinstance(raw, (int, float)):  # a tuple: faster than int | float
        number = raw
    elif isinstance(raw, str) and is_number(raw.strip()):
        text = raw.strip()
        number = int(text) if _INTEGER.fullmatch(text) else float(text)
    else:
        return None
    return Bound(float(number), perl_str(raw), number)


class Pattern:
    """A ``pattern``, applied as ``$value !~ m/^$pattern$/`` (1636-1638) by :mod:`.perlre`.

    Compiled on first use, so only the validator pays for it, and a pattern Python cannot read fails
    the check that uses it, not every reader of the schema.
    """

    __slots__ = ("_compiled", "source")

    def __init__(self, source: str) -> None:
        self.source = source
        self._compiled: AnchoredPattern | None = None

    @property
    def compiled(self) -> AnchoredPattern:
        compiled = self._compiled
        if compiled is None:
            compiled = self._compiled = compile_anchored(self.source)
        return compiled

    def matches(self, text: str) -> bool:
        return self.compiled.matches(text)

    def __repr__(self) -> str:
        return f"Pattern({self.source!r})"


class Properties(dict[str, "Node"]):
    """An object's properties (or a property string's keys), read-only once read.

    ``required``: the keys PVE reports missing whatever else the object holds. ``when_absent``: the
    keys whose absence can fail at all (the required ones, and each ``oneOf``, whose alternative for
    the instance type decides); an absent key outside it cannot, so the validator visits the keys a
    request has and these, instead of all (VM create declares 500+).
    """

    __slots__ = ("required", "when_absent")

    def __init__(self, nodes: Mapping[str, Node]) -> None:
        super().__init__(nodes)
        self.required = tuple(key for key, node in self.items() if node.required)
        self.when_absent = tuple(
            key for key, node in self.items() if node.one_of is not None or node.absent_ok is None
        )


EMPTY = Properties({})


@dataclass(frozen=True, slots=True)
class PropertyString:
    """A property-string format (``key=value,...``): its keys, the key a bare value goes to (the one
    flagged ``default_key``, 1122-1124), and the registered name, if any (its validator's key)."""

    keys: Properties
    default_key: str | None
    name: str | None = None


class Node(NamedTuple):
    """One (sub)schema as PVE reads it; ``None`` means "not given".

    A named tuple: immutable, built in one step (thousands are read for the OpenAPI document) and
    its fields read fast on the validator's path.
    """

    source: Mapping[str, Any]  # as the tree has it (GUI hints, links and keys nobody reads stay there)
    type: str | tuple[str, ...] | None = None  # as declared: a name, or alternatives (check_type's ARRAY)
    types: tuple[str, ...] | None = None  # the alternatives check_type verifies; None: any value passes
    absent_ok: Absent | None = None  # why an absent value is fine; None: PVE reports it (unless a oneOf decides)
    required: bool = True  # reported missing whatever the object holds (see required())
    optional: bool = False
    alias: str | None = None  # the key this one stands for (1104-1112, 1576)
    key_alias: str | None = None  # where a property string records which alias was used (1105-1108)
    group: str | None = None
    default_key: bool = False
    format: str | PropertyString | None = None  # a registered name (maybe -list/-opt), or inline keys
    pattern: Pattern | None = None
    max_length: Bound | None = None
    min_length: Bound | None = None
    maximum: Bound | None = None
    minimum: Bound | None = None
    enum: tuple[str, ...] | None = None  # compared with ``eq``: Perl strings (1673-1681)
    scalar_checks: tuple[tuple[str, Any], ...] = ()  # (keyword, what it was read as), in SCALAR_ORDER
    default: Any = None
    requires: str | Node | None = None  # a key that must be present too, or a schema the object must pass
    items: Node | None = None
    properties: Properties | None = None
    additional: Node | bool | None = None  # None: anything else goes (``defined($additional_properties)``, 1371)
    one_of: tuple[Node, ...] | None = None
    type_property: str | None = None  # the sibling key whose value is this object's instance type
    instance_types: tuple[str, ...] | None = None  # the instance types a property or alternative applies to
    description: str | None = None
    verbose_description: str | None = None
    title: str | None = None
    typetext: str | None = None
    format_description: str | None = None


Memo = dict[int, tuple[Mapping[str, Any], Node]]


def read(raw: Mapping[str, Any], memo: Memo | None = None) -> Node:
    """``raw`` as a :class:`Node`. ``memo`` is keyed by identity: the expanded ``net0`` .. ``net31``
    share one source schema, read once (and then share their node too)."""
    memo = {} if memo is None else memo
    hit = memo.get(id(raw))
    if hit is not None and hit[0] is raw:
        return hit[1]
    node = _read(raw, memo)
    memo[id(raw)] = (raw, node)
    return node


def absent_ok(raw: Mapping[str, Any]) -> Absent | None:
    """Why PVE lets the value of ``raw`` be absent, or None when it reports it (see :func:`_absent`)."""
    return _absent(truthy(raw.get("alias")), raw.get("type") == "null", truthy(raw.get("optional")),
                   truthy(raw.get("group")))


def required(raw: Mapping[str, Any]) -> bool:
    """Whether PVE reports ``raw``'s value missing whatever the object around it holds (see
    :func:`_required`)."""
    return _required(absent_ok(raw), isinstance(raw.get("oneOf"), list), truthy(raw.get("type-property")))


def _absent(alias: bool, null: bool, optional: bool, group: bool) -> Absent | None:
    """``return if $schema->{alias}`` (1576); ``return if $schema->{type} eq 'null'`` (1579); then only
    ``!$schema->{optional} && !$schema->{group}`` is "property is missing and it is not optional"
    (1580-1581). Each flag is Perl-true or not (``optional: "0"`` is not optional)."""
    if alias:
        return "alias"
    if null:
        return "null"
    if optional:
        return "optional"
    if group:
        return "group"
    return None


def _required(absent: Absent | None, one_of: bool, type_property: bool) -> bool:
    """No reason to be absent, and neither a ``oneOf`` nor a ``type-property``, for which the object's
    instance type decides (a typed oneOf is optional without one, 1525-1537; a property of other
    instance types may be absent, 1563-1573)."""
    return absent is None and not one_of and not type_property


def _is_mapping(value: Any) -> bool:
    return isinstance(value, dict) or isinstance(value, Mapping)  # noqa: SIM101 (dict: the fast path)


def _text(value: Any, _memo: Memo | None = None) -> str | None:
    return str(value) if truthy(value) else None


def _doc(value: Any, _memo: Memo) -> str | None:
    return value if isinstance(value, str) and value else None


def _flag(value: Any, _memo: Memo) -> bool:
    return truthy(value)


def _type(raw: Any, _memo: Memo) -> str | tuple[str, ...] | None:
    if isinstance(raw, str):
        return raw
    if isinstance(raw, list):
        return tuple(perl_str(name) for name in raw)
    return None  # a schema (check_type's HASH case, which no tree uses)


def _verified(declared: str | tuple[str, ...] | None) -> tuple[str, ...] | None:
    names = (declared,) if isinstance(declared, str) else declared
    return names if names and VERIFIED_TYPES.issuperset(names) else None


def _strings(raw: Any, _memo: Memo) -> tuple[str, ...] | None:
    # an undef in a list is nothing PVE can match or print usefully; no tree has one
    return tuple(perl_str(v) for v in raw if v is not None) if isinstance(raw, list) else None


def _bound(raw: Any, _memo: Memo) -> Bound | None:
    return bound(raw)


def _as_is(raw: Any, _memo: Memo) -> Any:
    return raw


def _format(raw: Any, memo: Memo) -> str | PropertyString | None:
    # ``if (my $format = $schema->{format})``: Perl-true (1628); a hash is an inline definition (977)
    return read_property_string(raw, memo=memo) if _is_mapping(raw) else _text(raw)


def _pattern(raw: Any, _memo: Memo) -> Pattern | None:
    return Pattern(str(raw)) if truthy(raw) else None  # ``if (my $pattern = ...)`` (1636)


def _requires(raw: Any, memo: Memo) -> str | Node | None:
    return read(raw, memo) if _is_mapping(raw) else _text(raw)


def _items(raw: Any, memo: Memo) -> Node | None:
    return read(raw, memo) if _is_mapping(raw) else None


def _object_properties(raw: Any, memo: Memo) -> Properties:
    # given at all (even ``{}`` or null), they make an object schema to check_prop (1605-1608)
    return _properties(raw or {}, memo)


def _additional(raw: Any, memo: Memo) -> Node | bool | None:
    if _is_mapping(raw):
        return read(raw, memo)
    return None if raw is None else truthy(raw)


def _one_of(raw: Any, memo: Memo) -> tuple[Node, ...] | None:
    return tuple(read(v, memo) for v in raw if _is_mapping(v)) if isinstance(raw, list) else None


_FIELD = {name: index for index, name in enumerate(Node._fields)}
# each key PVE's dialect gives meaning to: the field it is read into, and how
_READERS: dict[str, tuple[int, Callable[[Any, Memo], Any]]] = {
    key: (_FIELD[field], reader) for key, field, reader in (
        ("type", "type", _type), ("optional", "optional", _flag), ("alias", "alias", _text),
        ("keyAlias", "key_alias", _text), ("group", "group", _text), ("default_key", "default_key", _flag),
        ("format", "format", _format), ("pattern", "pattern", _pattern),
        ("maxLength", "max_length", _bound), ("minLength", "min_length", _bound),
        ("maximum", "maximum", _bound), ("minimum", "minimum", _bound),
        ("enum", "enum", _strings),  # ``enum: null`` is no enum
        ("default", "default", _as_is), ("requires", "requires", _requires), ("items", "items", _items),
        ("properties", "properties", _object_properties), ("additionalProperties", "additional", _additional),
        ("oneOf", "one_of", _one_of), ("type-property", "type_property", _text),
        ("instance-types", "instance_types", _strings), ("description", "description", _doc),
        ("verbose_description", "verbose_description", _doc), ("title", "title", _doc),
        ("typetext", "typetext", _doc), ("format_description", "format_description", _doc),
    )
}
_SCALAR_FIELDS = tuple((keyword, _FIELD[field]) for keyword, field in zip(
    SCALAR_ORDER, ("format", "pattern", "max_length", "min_length", "maximum", "minimum", "enum"), strict=True
))
_BLANK = tuple(Node({}))
_TYPE, _TYPES, _ABSENT, _REQUIRED, _OPTIONAL, _ALIAS, _GROUP, _CHECKS, _ONE_OF, _TYPE_PROPERTY = (
    _FIELD[name] for name in ("type", "types", "absent_ok", "required", "optional", "alias", "group",
                              "scalar_checks", "one_of", "type_property")
)


def _read(raw: Mapping[str, Any], memo: Memo) -> Node:
    # only the keys the schema has are read: the OpenAPI document reads thousands of small schemas
    values = list(_BLANK)
    values[0] = raw
    for key, value in raw.items():
        known = _READERS.get(key)
        if known is not None:
            values[known[0]] = known[1](value, memo)
    declared = values[_TYPE]
    values[_TYPES] = _verified(declared)
    # the flags as read above are Perl-true exactly when given
    absent = values[_ABSENT] = _absent(values[_ALIAS] is not None, declared == "null", values[_OPTIONAL],
                                       values[_GROUP] is not None)
    values[_REQUIRED] = _required(absent, values[_ONE_OF] is not None, values[_TYPE_PROPERTY] is not None)
    checks = [(keyword, values[index]) for keyword, index in _SCALAR_FIELDS if values[index] is not None]
    if checks:
        values[_CHECKS] = tuple(checks)
    return Node._make(values)


def _properties(raw: Any, memo: Memo) -> Properties:
    items = raw.items() if _is_mapping(raw) else ()
    return Properties({str(k): read(v, memo) for k, v in items if _is_mapping(v)})


def read_property_string(
    raw: Mapping[str, Any], name: str | None = None, memo: Memo | None = None
) -> PropertyString:
    """A property-string definition ``{key: schema}`` (inline in a ``format``, or registered)."""
    memo = {} if memo is None else memo
    keys = _properties(raw, memo)
    default = next((k for k, node in keys.items() if node.default_key), None)
    return PropertyString(keys, default, name)


@cache
def named_property_string(name: str) -> PropertyString | None:
    """The registered property-string format ``name`` (``register_format`` with a hash), or None."""
    raw = HASH_FORMATS.get(name)
    return read_property_string(raw, name) if raw is not None else None
