"""PVE's schema dialect, read once (``pvegateway.schema.dialect``), and its four readers agreeing.

Each rule cites the pve-common ``src/PVE/JSONSchema.pm`` lines it follows (PVE 9.2.1, the oracle):
the validator's messages are PVE's own texts; the drift check, the OpenAPI converter and the sample
generator must read "required" the same way the validator does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from pvegateway.backends.proxy.drift import check
from pvegateway.backends.samples import sample
from pvegateway.openapi.convert import Converter, is_required
from pvegateway.schema.dialect import Node, PropertyString, named_property_string, read, required
from pvegateway.schema.errormap import ErrorMap
from pvegateway.schema.validate import ParamValidator


def _errors(schema: Mapping[str, Any], params: dict[str, Any]) -> ErrorMap:
    validator = ParamValidator({"type": "object", "additionalProperties": 0, "properties": {"p": schema}})
    return validator.errors(params)


def _property(schema: Mapping[str, Any]) -> Node:
    properties = read({"type": "object", "properties": {"p": schema}}).properties
    assert properties is not None
    return properties["p"]


MISSING = "property is missing and it is not optional"  # JSONSchema.pm:1581

# (schema of property 'p', why its absence is fine or None). JSONSchema.pm:1575-1583:
#   return if $schema->{alias};                       (1576)
#   return if $schema->{type} && $schema->{type} eq 'null';   (1579)
#   if (!$schema->{optional} && !$schema->{group} ...) add_error(..., "property is missing ...")  (1580-1581)
# Every flag is Perl-true or not: "0" and "" are false.
ABSENCE = [
    ({"type": "string"}, None),
    ({"type": "string", "optional": 1}, "optional"),
    ({"type": "string", "optional": "1"}, "optional"),
    ({"type": "string", "optional": "0"}, None),
    ({"type": "string", "optional": ""}, None),
    ({"type": "string", "optional": 0}, None),
    ({"type": "string", "alias": "q"}, "alias"),
    ({"type": "string", "group": "net"}, "group"),
    ({"type": "string", "group": "0"}, None),
    ({"type": "null"}, "null"),
]


@pytest.mark.parametrize(("schema", "why"), ABSENCE)
def test_an_absent_value_is_fine_only_if_optional_alias_group_or_null(schema: dict[str, Any], why: str | None) -> None:
    node = _property(schema)
    assert node.absent_ok == why
    assert node.required is (why is None)
    # the validator: PVE's text for a missing non-optional property
    assert _errors(schema, {}) == ({} if why else {"p": MISSING})


@pytest.mark.parametrize(("schema", "why"), ABSENCE)
def test_the_drift_check_and_the_openapi_converter_read_required_as_the_validator(
    schema: dict[str, Any], why: str | None
) -> None:
    returns = {"type": "object", "properties": {"p": schema}}
    converted = Converter().convert(returns)
    assert ("required" in converted) is (why is None)
    assert is_required(schema) is (why is None)
    reported = check(read(returns), {}).descriptions
    assert reported == ([] if why else ["data: missing required property 'p'"])


def test_a_typed_one_of_without_an_instance_type_may_be_absent() -> None:
    """``$optional_for_type = 1`` and ``last if !$instance_type`` (JSONSchema.pm:1525-1528); with a
    type, the alternative's own ``optional`` decides (1536-1537)."""
    schema = {"type-property": "kind", "oneOf": [
        {"type": "string", "instance-types": ["a"]},
        {"type": "string", "instance-types": ["b"], "optional": 1},
    ]}
    parameters = {"type": "object", "additionalProperties": 0,
                  "properties": {"kind": {"type": "string", "optional": 1}, "p": schema}}
    validator = ParamValidator(parameters)
    assert validator.errors({}) == {}
    # the alternative (1538) and then the property itself (1580-1581) report it; add_error joins (1151-1160)
    assert validator.errors({"kind": "a"}) == {"p": f"{MISSING}\\n{MISSING}"}
    assert validator.errors({"kind": "b"}) == {}
    assert not required(schema) and not _property(schema).required
    assert _property(schema).absent_ok is None  # not optional in itself: the instance type decides


def test_a_property_with_a_type_property_is_required_only_where_its_type_applies() -> None:
    """``if (!defined($schema->{'instance-types'}))`` is "missing 'instance-types'" (1564-1565); the
    checker reports it missing when the object has no type (the ``elsif ($instance_type)`` branch,
    1563, is not taken); so no reader may call it required whatever the object holds."""
    schema = {"type": "string", "type-property": "kind", "instance-types": ["a"]}
    node = _property(schema)
    assert node.type_property == "kind" and node.instance_types == ("a",)
    assert not node.required and not required(schema)
    assert _errors(schema, {}) == {"p": MISSING}


def test_bounds_given_as_strings_compare_as_numbers_and_print_as_given() -> None:
    """``$value > $max`` compares numerically; the message prints ``$max`` (JSONSchema.pm:1657-1668,
    "value must have a maximum value of $max"). The tree has bounds such as ``"16777216"``."""
    schema = {"type": "integer", "maximum": "16777216", "minimum": 0.5, "maxLength": "3"}
    node = _property(schema)
    assert node.maximum is not None and node.maximum.value == 16777216.0 and node.maximum.number == 16777216
    assert node.minimum is not None and node.minimum.text == "0.5" and node.minimum.number == 0.5
    assert _errors(schema, {"p": "99999999"})["p"] == "value may only be 3 characters long"
    assert _errors({"type": "integer", "maximum": "16777216"}, {"p": "16777217"}) == {
        "p": "value must have a maximum value of 16777216"
    }
    assert Converter().convert(schema)["maximum"] == 16777216  # a JSON number, not the string
    assert _property({"type": "integer", "maximum": "lots"}).maximum is None


def test_enum_values_are_compared_as_perl_strings() -> None:
    """``$ev eq $value`` and ``join(", ", @$ea)`` (JSONSchema.pm:1673-1681); ``enum: null`` is none."""
    node = _property({"type": "integer", "enum": [1, 2]})
    assert node.enum == ("1", "2")
    assert _errors({"type": "integer", "enum": [1, 2]}, {"p": "3"}) == {
        "p": "value '3' does not have a value in the enumeration '1, 2'"
    }
    assert _property({"type": "string", "enum": None}).enum is None


def test_scalar_keywords_are_checked_in_pves_order_whatever_the_key_order() -> None:
    """format, pattern, maxLength, minLength, maximum, minimum, enum; the first failure is the only
    one reported (JSONSchema.pm:1628-1689)."""
    schema = {"enum": ["zz"], "minimum": 5, "maxLength": 1, "pattern": "[a-z]+", "type": "string",
              "format": "pve-node"}
    order = [keyword for keyword, _ in _property(schema).scalar_checks]
    assert order == ["format", "pattern", "maxLength", "minimum", "enum"]
    assert _errors(schema, {"p": "ab"}) == {"p": "value may only be 1 characters long"}
    assert _errors(schema, {"p": "1"}) == {"p": "value does not match the regex pattern"}


def test_empty_format_and_pattern_are_not_checked() -> None:
    """``if (my $format = $schema->{format})``, ``if (my $pattern = ...)``: Perl-true only (1628, 1636)."""
    node = _property({"type": "string", "format": "", "pattern": ""})
    assert node.format is None and node.pattern is None and node.scalar_checks == ()
    assert _errors({"type": "string", "format": "", "pattern": ""}, {"p": "anything"}) == {}


def test_a_pattern_is_half_anchored_as_pve_pastes_it() -> None:
    """``$value !~ m/^$pattern$/`` (JSONSchema.pm:1636): ``a|b`` is ``^a`` or ``b$``."""
    pattern = _property({"type": "string", "pattern": "a|b"}).pattern
    assert pattern is not None
    assert [pattern.matches(v) for v in ("ax", "xb", "xa")] == [True, True, False]


def test_inline_and_named_property_strings_know_their_default_key() -> None:
    """A bare value goes to the key flagged ``default_key`` (JSONSchema.pm:1122-1129); a ``format``
    that is a hash is an inline property string (975-979)."""
    inline = _property({"type": "string", "format": {
        "model": {"type": "string", "default_key": 1}, "virtio": {"alias": "model", "keyAlias": "x"}}}).format
    assert isinstance(inline, PropertyString)
    assert inline.default_key == "model" and inline.name is None
    assert inline.keys["virtio"].alias == "model" and inline.keys["virtio"].key_alias == "x"
    assert inline.keys["virtio"].absent_ok == "alias"
    named = named_property_string("pve-qm-boot")
    assert named is not None and named.name == "pve-qm-boot"
    assert named_property_string("pve-node") is None  # a code format, not a hash
    assert _property({"type": "string", "format": "pve-node"}).format == "pve-node"


def test_additional_properties_undefined_allows_zero_refuses_and_a_schema_checks() -> None:
    """``if (defined($additional_properties) && !$additional_properties)`` refuses unknown keys;
    ``check_prop(..., $additional_properties, ...) if ref(...)`` checks them (JSONSchema.pm:1371-1384)."""
    assert read({"type": "object"}).additional is None
    assert read({"type": "object", "additionalProperties": None}).additional is None
    assert read({"type": "object", "additionalProperties": 0}).additional is False
    assert read({"type": "object", "additionalProperties": "1"}).additional is True
    assert isinstance(read({"type": "object", "additionalProperties": {"type": "integer"}}).additional, Node)


def test_properties_that_are_given_make_an_object_schema_even_when_empty() -> None:
    """``elsif ($schema->{properties} || $schema->{additionalProperties})`` then ``defined(...) ? ... : {}``
    (JSONSchema.pm:1605-1608)."""
    assert read({"type": "object", "properties": {}}).properties == {}
    assert read({"type": "object"}).properties is None


def test_unknown_and_any_types_are_not_verified() -> None:
    """``return 1 if $type eq 'any'`` (1208) and ``return 1; # no need to verify unknown types`` (1275);
    a list of types is alternatives (1188-1198)."""
    assert read({"type": "any"}).types is None
    assert read({"type": "ip"}).types is None  # SDN's
    assert read({"type": ["string", "null"]}).type == ("string", "null")
    assert read({"type": ["string", "null"]}).types == ("string", "null")
    assert read({"type": ["string", "ip"]}).types is None
    assert _errors({"type": "ip"}, {"p": ["not", "a", "scalar"]}) == {}
    assert _errors({"type": ["integer", "boolean"]}, {"p": "x"}) == {"p": "type check ('integer|boolean') failed"}


def test_a_shared_subschema_is_read_once() -> None:
    """The expanded net0 .. net31 share one source schema, so they share one node (and one result)."""
    net = {"type": "string", "optional": 1, "format": {"model": {"type": "string", "default_key": 1}}}
    node = read({"type": "object", "properties": {f"net{i}": net for i in range(32)}})
    assert node.properties is not None
    assert len({id(node.properties[f"net{i}"]) for i in range(32)}) == 1


def test_samples_follow_the_same_reading() -> None:
    """The sample generator reads bounds and enums as the validator does: its values pass it."""
    schema = {"type": "object", "properties": {
        "cores": {"type": "integer", "minimum": "2"},
        "status": {"type": "string", "enum": ["running", "stopped"]},
        "tags": {"type": "array", "items": {"type": "string"}},
    }}
    made = sample(schema)
    assert made == {"cores": 2, "status": "stopped", "tags": ["tags-" + made["tags"][0].split("-")[1]]}
    assert sample(read(schema)) == made  # a node or its source: the same value
