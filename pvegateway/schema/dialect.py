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
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

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
    elif isinstance(raw, int | float):
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


@dataclass(frozen=True, slots=True)
class Node:
    """One (sub)schema as PVE reads it. ``None`` everywhere means "not given"."""

    source: Mapping[str, Any]  # as the tree has it (GUI hints, links and keys nobody reads stay there)
    type: str | tuple[str, ...] | None  # as declared: one name or alternatives (check_type takes an ARRAY)
    types: tuple[str, ...] | None  # the alternatives check_type verifies; None: any defined value passes
    absent_ok: Absent | None  # why an absent value is fine; None: PVE reports it (unless a oneOf decides)
    required: bool  # reported missing whatever the object holds (see required())
    optional: bool
    alias: str | None  # the key this one stands for (1104-1112, 1576)
    key_alias: str | None  # where a property string records which alias was used (1105-1108)
    group: str | None
    default_key: bool
    format: str | PropertyString | None  # a registered name (maybe -list/-opt), or an inline definition
    pattern: Pattern | None
    max_length: Bound | None
    min_length: Bound | None
    maximum: Bound | None
    minimum: Bound | None
    enum: tuple[str, ...] | None  # compared with ``eq``: Perl strings (1673-1681)
    scalar_checks: tuple[tuple[str, Any], ...]  # (keyword, what it was read as), in SCALAR_ORDER
    default: Any
    requires: str | Node | None  # a key that must be present too, or a schema the object must pass
    items: Node | None
    properties: Properties | None
    additional: Node | bool | None  # None: anything else goes (``defined($additional_properties)``, 1371)
    one_of: tuple[Node, ...] | None
    type_property: str | None  # the sibling key whose value is this object's instance type
    instance_types: tuple[str, ...] | None  # the instance types a property or alternative applies to
    description: str | None
    verbose_description: str | None
    title: str | None
    typetext: str | None
    format_description: str | None


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
    """Why PVE lets the value of ``raw`` be absent, or None when it reports it.

    ``return if $schema->{alias}`` (1576); ``return if $schema->{type} eq 'null'`` (1579); then only
    ``!$schema->{optional} && !$schema->{group}`` is "property is missing and it is not optional"
    (1580-1581). Each flag is Perl-true or not (``optional: "0"`` is not optional).
    """
    if truthy(raw.get("alias")):
        return "alias"
    if raw.get("type") == "null":
        return "null"
    if truthy(raw.get("optional")):
        return "optional"
    if truthy(raw.get("group")):
        return "group"
    return None


def required(raw: Mapping[str, Any]) -> bool:
    """Whether PVE reports ``raw``'s value missing whatever the object around it holds: no reason in
    :func:`absent_ok`, and neither a ``oneOf`` nor a ``type-property``, for which the object's
    instance type decides (a typed oneOf is optional without one, 1525-1537; a property of other
    instance types may be absent, 1563-1573)."""
    return absent_ok(raw) is None and not _typed(raw)


def _typed(raw: Mapping[str, Any]) -> bool:
    return isinstance(raw.get("oneOf"), list) or truthy(raw.get("type-property"))


def _text(value: Any) -> str | None:
    return str(value) if truthy(value) else None


def _doc(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _type(raw: Any) -> str | tuple[str, ...] | None:
    if isinstance(raw, str):
        return raw
    if isinstance(raw, list):
        return tuple(perl_str(name) for name in raw)
    return None  # absent, or a schema (check_type's HASH case, which no tree uses)


def _verified(declared: str | tuple[str, ...] | None) -> tuple[str, ...] | None:
    names = (declared,) if isinstance(declared, str) else declared
    return names if names and VERIFIED_TYPES.issuperset(names) else None


def _strings(raw: Any) -> tuple[str, ...] | None:
    # an undef in a list is nothing PVE can match or print usefully; no tree has one
    return tuple(perl_str(v) for v in raw if v is not None) if isinstance(raw, list) else None


def _read(raw: Mapping[str, Any], memo: Memo) -> Node:
    fmt = raw.get("format")
    pattern = raw.get("pattern")
    declared = _type(raw.get("type"))
    checks: dict[str, Any] = {
        # ``if (my $format = ...)``, ``if (my $pattern = ...)``: Perl-true (1628, 1636)
        "format": read_property_string(fmt, memo=memo) if isinstance(fmt, Mapping) else _text(fmt),
        "pattern": Pattern(str(pattern)) if truthy(pattern) else None,
        "maxLength": bound(raw.get("maxLength")),
        "minLength": bound(raw.get("minLength")),
        "maximum": bound(raw.get("maximum")),
        "minimum": bound(raw.get("minimum")),
        "enum": _strings(raw.get("enum")),  # ``enum: null`` is no enum
    }
    requires = raw.get("requires")
    items = raw.get("items")
    properties = raw.get("properties")
    additional = raw.get("additionalProperties")
    one_of = raw.get("oneOf")
    return Node(
        source=raw,
        type=declared,
        types=_verified(declared),
        absent_ok=absent_ok(raw),
        required=required(raw),
        optional=truthy(raw.get("optional")),
        alias=_text(raw.get("alias")),
        key_alias=_text(raw.get("keyAlias")),
        group=_text(raw.get("group")),
        default_key=truthy(raw.get("default_key")),
        format=checks["format"],
        pattern=checks["pattern"],
        max_length=checks["maxLength"],
        min_length=checks["minLength"],
        maximum=checks["maximum"],
        minimum=checks["minimum"],
        enum=checks["enum"],
        scalar_checks=tuple((k, checks[k]) for k in SCALAR_ORDER if checks[k] is not None),
        default=raw.get("default"),
        requires=read(requires, memo) if isinstance(requires, Mapping) else _text(requires),
        items=read(items, memo) if isinstance(items, Mapping) else None,
        # ``properties: {}`` (or null) is still an object schema to check_prop (1605-1608)
        properties=_properties(properties or {}, memo) if "properties" in raw else None,
        additional=read(additional, memo) if isinstance(additional, Mapping)
        else None if additional is None else truthy(additional),
        one_of=tuple(read(v, memo) for v in one_of if isinstance(v, Mapping)) if isinstance(one_of, list) else None,
        type_property=_text(raw.get("type-property")),
        instance_types=_strings(raw.get("instance-types")),
        description=_doc(raw.get("description")),
        verbose_description=_doc(raw.get("verbose_description")),
        title=_doc(raw.get("title")),
        typetext=_doc(raw.get("typetext")),
        format_description=_doc(raw.get("format_description")),
    )


def _properties(raw: Any, memo: Memo) -> Properties:
    items = raw.items() if isinstance(raw, Mapping) else ()
    return Properties({str(k): read(v, memo) for k, v in items if isinstance(v, Mapping)})


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
