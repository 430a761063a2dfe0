"""Hypothesis: property strings survive a print/parse round trip, and no request breaks a validator.

Clients build ``net0=virtio,bridge=vmbr0,firewall=1`` the way PVE's ``print_property_string`` does;
the gateway must read back exactly the keys that were written, whatever their order, and accept
them. And since a request's parameters are the attacker's to choose, a whole operation's
validator (VM and container create, VM config update, firewall rules) must answer anything with
PVE's 400, never another exception and never slowly.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from functools import cache
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pvegateway.apidoc.operation import Operation
from pvegateway.apidoc.schema import load_schema
from pvegateway.schema import propstring
from pvegateway.schema.checker import PVE_FORMATS, PVEValidator, check_property_string
from pvegateway.schema.dialect import Bound, Node, PropertyString, read_property_string
from pvegateway.schema.formats.registry import HASH_FORMATS, HASH_VALIDATORS
from pvegateway.schema.perl import PERL_SPACE
from pvegateway.schema.perlre import python_syntax
from pvegateway.schema.propstring import parse_boolean
from tests.schema import (
    test_formats_access,
    test_formats_cluster,
    test_formats_common,
    test_formats_firewall,
    test_formats_guests,
    test_formats_storage,
)
from tests.schema.test_formats_hypothesis import FAST, PIECES, answer, hostile, time_bound

SCHEMA = load_schema("9.2")
VALIDATOR = PVEValidator({"pve": {}}, format_checker=PVE_FORMATS)

# --- the formats under test --------------------------------------------------------------------------


def _inline_formats() -> dict[str, Mapping[str, Any]]:
    """Every distinct inline property-string format of the apidoc, named after its first parameter."""
    found: dict[str, Mapping[str, Any]] = {}
    seen: set[str] = set()
    for op in SCHEMA.operations:
        for name, schema in (op.parameters.get("properties") or {}).items():
            fmt = schema.get("format")
            if isinstance(fmt, Mapping):
                text = json.dumps(fmt, sort_keys=True, default=str)
                if text not in seen:
                    seen.add(text)
                    found[f"{op.method} {op.path} {name}"] = fmt
    return found


INLINE = _inline_formats()
FORMATS: dict[str, PropertyString] = {
    **{name: read_property_string(raw, name) for name, raw in HASH_FORMATS.items()},
    **{label: read_property_string(raw) for label, raw in INLINE.items()},
}

# --- valid values, from each key's schema ------------------------------------------------------------

_EXTRA_VALID = {
    "pve-lxc-mp-string": ["/mnt/data", "/srv"],
    "pve-lxc-dev-string": ["/dev/null", "/dev/ttyS0"],
    "pve-qm-bootdev": ["scsi0", "net0", "ide2"],
    "pve-sdn-wireguard-iface-name": ["wg0", "wg-site1"],
}


def _known_valid() -> dict[str, list[str]]:
    """Values PVE accepts, per code format: the family tests' VALID tables plus a few here."""
    valid: dict[str, list[str]] = {name: list(values) for name, values in _EXTRA_VALID.items()}
    for module in (test_formats_access, test_formats_cluster, test_formats_common, test_formats_firewall,
                   test_formats_guests, test_formats_storage):
        for name, value in module.VALID:
            valid.setdefault(name, []).append(value)
    return valid


KNOWN_VALID = _known_valid()
BOOLEAN_SPELLINGS = ["1", "0", "on", "off", "yes", "no", "true", "false", "TRUE", "Off"]
_PLAIN = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters=",="), min_size=1,
                 max_size=20)


class Unsupported(Exception):
    """No generator for this key's values (a format without known-valid examples)."""


def _bounds(lo: Bound | None, hi: Bound | None, low: float, high: float) -> tuple[float, float]:
    return (max(low, lo.value) if lo else low), (min(high, hi.value) if hi else high)


def _usable(value: str, default: bool) -> bool:
    return "," not in value and value.strip() != "" and "\n" not in value and not (default and "=" in value)


def value_strategy(schema: Node, default: bool) -> st.SearchStrategy[str]:
    """Strings PVE accepts for one key (raises Unsupported when none can be made)."""
    shortest, longest = _bounds(schema.min_length, schema.max_length, 0, 10**6)
    return _unbounded_values(schema, default).filter(lambda v: shortest <= len(v) <= longest)


def _unbounded_values(schema: Node, default: bool) -> st.SearchStrategy[str]:
    kind = schema.type
    if schema.enum is not None:
        return st.sampled_from([v for v in schema.enum if _usable(v, default)])
    if kind == "boolean":
        return st.sampled_from(BOOLEAN_SPELLINGS)
    if kind == "integer":
        low, high = _bounds(schema.minimum, schema.maximum, -(10**9), 10**9)
        return st.integers(math.ceil(low), math.floor(high)).map(str)
    if kind == "number":
        low, high = _bounds(schema.minimum, schema.maximum, -1e9, 1e9)
        return st.floats(low, high, allow_nan=False, allow_infinity=False).map(repr)
    fmt = schema.format
    if isinstance(fmt, str) and fmt != "string":
        base = fmt.removesuffix("-list")
        values = [v for v in KNOWN_VALID.get(base, []) if _usable(v, default)]
        if not values:
            raise Unsupported(fmt)
        return st.sampled_from(values)
    pattern = schema.pattern
    if pattern is not None:
        return _perl_matches(pattern.source)
    return _PLAIN


# Python's Unicode \s, \w and \d are not Perl's (\x1f is space, '²' a word character to Python only);
# their ASCII forms are, and Perl's non-ASCII spaces are kept out of what \S and [^\s] may draw.
_PERL_ONLY_SPACE = frozenset(c for c in PERL_SPACE if not c.isascii())


def _perl_matches(source: str) -> st.SearchStrategy[str]:
    """Strings that Perl's ``m/^SOURCE$/`` matches (drawn with classes both dialects agree on)."""
    drawn = st.from_regex(re.compile(python_syntax(source), re.ASCII), fullmatch=True)
    return drawn.filter(_PERL_ONLY_SPACE.isdisjoint)


@st.composite
def property_hash(draw: st.DrawFn, fmt: PropertyString) -> dict[str, str]:
    """A hash PVE accepts for ``fmt``: every required key, a random choice of the optional ones."""
    chosen: dict[str, str] = {}
    keys = [k for k, s in fmt.keys.items() if s.alias is None]
    wanted = [k for k in keys if not fmt.keys[k].optional or draw(st.booleans())]
    for key in wanted:
        required = fmt.keys[key].requires
        if isinstance(required, str) and required not in wanted:
            wanted.append(required)
    for key in wanted:
        strategy = value_strategy(fmt.keys[key], key == fmt.default_key)
        is_default = key == fmt.default_key
        chosen[key] = draw(strategy.filter(lambda v: _usable(v, is_default)))  # noqa: B023 (drawn at once)
    return chosen


def print_property_string(fmt: PropertyString, data: Mapping[str, str], order: list[str], aliased: bool) -> str:
    """PVE's ``print_property_string``: the default key's bare value first, then ``key=value``.

    With ``aliased``, a key that has an alias form is written that way (``virtio=<mac>`` for
    ``model=virtio,macaddr=<mac>``), as clients and PVE's GUI do.
    """
    parts: list[str] = []
    rest = dict(data)
    if aliased:
        for name, schema in fmt.keys.items():
            target, key_alias = schema.alias, schema.key_alias
            if key_alias and rest.get(key_alias) == name and target in rest:
                parts.append(f"{name}={rest.pop(target)}")
                del rest[key_alias]
    default = fmt.default_key
    if default in rest:
        parts.insert(0, rest.pop(default))
    parts += [f"{key}={rest[key]}" for key in order if key in rest]
    return ",".join(parts)


def _normalised(fmt: PropertyString, data: Mapping[str, str]) -> dict[str, str]:
    """What parsing yields: booleans in their ``1``/``0`` form."""
    return {
        key: (parse_boolean(value) or value) if fmt.keys[key].type == "boolean" else value
        for key, value in data.items()
    }


def _roundtrip_formats() -> list[str]:
    usable = []
    for label, fmt in FORMATS.items():
        try:
            for key, schema in fmt.keys.items():
                if schema.alias is None:
                    value_strategy(schema, key == fmt.default_key)
        except Unsupported:
            continue
        usable.append(label)
    return usable


ROUNDTRIP = _roundtrip_formats()

# --- tests: round trips ------------------------------------------------------------------------------


def test_round_trips_cover_every_named_and_inline_format() -> None:
    """A format left out (no generator for one of its keys) would silently escape the round trip."""
    assert len(FORMATS) == len(HASH_FORMATS) + len(INLINE) and len(INLINE) >= 40
    assert sorted(set(FORMATS) - set(ROUNDTRIP)) == []


@pytest.mark.parametrize("label", ROUNDTRIP)
@settings(FAST, max_examples=15)
@given(data=st.data())
def test_printed_property_strings_parse_back_and_pass(label: str, data: st.DataObject) -> None:
    fmt = FORMATS[label]
    written = data.draw(property_hash(fmt))
    order = data.draw(st.permutations(sorted(written)))
    text = print_property_string(fmt, written, list(order), aliased=data.draw(st.booleans()))
    with time_bound():
        assert propstring.parse(fmt, text) == _normalised(fmt, written), text
        failed = check_property_string(VALIDATOR, fmt, text, "p")
    if label not in HASH_VALIDATORS:  # cpu flags and prune-backups also relate keys to each other
        assert failed is None, (text, failed)


def test_qemu_net_alias_form_parses_like_the_long_form() -> None:
    net = next(fmt for label, fmt in FORMATS.items() if label.startswith("POST /nodes/{node}/qemu net"))
    long = propstring.parse(net, "model=virtio,macaddr=BC:24:11:00:00:01,bridge=vmbr0,firewall=on")
    assert propstring.parse(net, "virtio=BC:24:11:00:00:01,bridge=vmbr0,firewall=1") == long
    assert long == {"model": "virtio", "macaddr": "BC:24:11:00:00:01", "bridge": "vmbr0", "firewall": "1"}


def test_bare_boolean_default_key_and_alias_clash_follow_pve_common() -> None:
    """Regressions found by the round trip, with pve-common's own test cases (test/json-schema):
    ``on`` alone sets a boolean default key (it was kept as 'on' and then failed the type check),
    and an alias may not overwrite a key already given (it was silently overwritten)."""
    fmt = read_property_string({"enabled": {"type": "boolean", "default_key": 1}, "active": {"alias": "enabled"}})
    for text in ("1", "true", "yes", "on", "enabled=on", "active=yes"):
        assert propstring.parse(fmt, text) == {"enabled": "1"}, text
        assert check_property_string(VALIDATOR, fmt, text, "p") is None, text
    assert check_property_string(VALIDATOR, fmt, "wrong", "p") == (
        "format error\np.enabled: type check ('boolean') failed - got 'wrong'\n"
    )
    clash = check_property_string(VALIDATOR, fmt, "enabled=1,active=1", "p")
    assert clash == "key 'enabled' is already defined (via alias)\n"
    net = FORMATS["POST /nodes/{node}/qemu net0"]
    assert check_property_string(VALIDATOR, net, "macaddr=BC:24:11:00:00:01,e1000=BC:24:11:00:00:02", "p") == (
        "key 'macaddr' is already defined (via alias)\n"
    )


# --- tests: hostile property strings -----------------------------------------------------------------


@st.composite
def hostile_property_string(draw: st.DrawFn, fmt: PropertyString) -> str:
    """``key=value`` parts with real keys (so checks run) and hostile values, keys or separators."""
    keys = sorted(fmt.keys)
    part = st.one_of(
        st.tuples(st.sampled_from(keys), hostile).map("=".join),
        st.tuples(st.sampled_from(keys), st.sampled_from(PIECES)).map("=".join),
        hostile,
        st.sampled_from(["", "=", "==", " ", "k=", "=v", ",", "\x00"]),
    )
    return ",".join(draw(st.lists(part, max_size=8)))


@pytest.mark.parametrize("label", sorted(FORMATS))
@settings(FAST, max_examples=12)
@given(data=st.data())
def test_hostile_property_strings_get_pve_text(label: str, data: st.DataObject) -> None:
    fmt = FORMATS[label]
    text = data.draw(hostile_property_string(fmt))
    with time_bound():
        failed = check_property_string(VALIDATOR, fmt, text, "p")
    assert failed is None or (isinstance(failed, str) and failed.endswith("\n")), failed


# --- tests: whole operations -------------------------------------------------------------------------

_ELEMENT = re.compile(r"(.+)\[\d+\]", re.DOTALL)


def _named_parameter(error_key: str) -> str:
    element = _ELEMENT.fullmatch(error_key)
    return error_key if element is None else element.group(1)


OPERATIONS = [
    "POST /nodes/{node}/qemu",
    "PUT /nodes/{node}/qemu/{vmid}/config",
    "POST /nodes/{node}/lxc",
    "POST /cluster/firewall/rules",
]


@cache
def operation(key: str) -> Operation:
    return next(op for op in SCHEMA.operations if op.key == key)


def _nested(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = [value]
    return value


scalar = st.one_of(st.none(), hostile, st.booleans())
json_value = st.recursive(
    scalar, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
param_value = st.one_of(
    scalar, st.lists(st.none() | hostile, max_size=5), json_value, st.integers(50, 5000).map(_nested)
)


@st.composite
def request_params(draw: st.DrawFn, key: str) -> dict[str, Any]:
    """Parameters as a client may send them: the operation's own names (with values built from the
    format's keys where it has one), invented names, and hostile values of every JSON shape."""
    properties: Mapping[str, Any] = operation(key).parameters.get("properties") or {}
    names = st.sampled_from(sorted(properties)) | st.text(max_size=12)
    params: dict[str, Any] = {}
    for name in draw(st.lists(names, max_size=10)):
        fmt = (properties.get(name) or {}).get("format")
        if isinstance(fmt, Mapping) and draw(st.booleans()):
            params[name] = draw(hostile_property_string(read_property_string(fmt)))
        else:
            params[name] = draw(param_value)
    return params


@pytest.mark.parametrize("key", OPERATIONS)
@settings(FAST, max_examples=120)
@given(data=st.data())
def test_operation_validators_answer_anything_with_a_400(key: str, data: st.DataObject) -> None:
    params = data.draw(request_params(key))
    err = answer(operation(key).validator, params)  # asserts: PVEError 400 with its errors map, in time
    if err is not None:
        # each error names a parameter: one that was sent or one the schema has (``name[0]`` for an
        # array element; an empty name is ``_root``: pve-common src/PVE/JSONSchema.pm:1154, add_error)
        known = {name or "_root" for name in params} | set(operation(key).parameters.get("properties") or {})
        assert err.errors is not None and err.errors
        assert all(_named_parameter(k) in known for k in err.errors), err.errors
