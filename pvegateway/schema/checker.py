"""PVE's ``check_prop``/``check_object`` as a jsonschema validator class.

The class is built once with ``jsonschema.validators.create``: a PVE type checker (Perl string
semantics), a PVE format checker (every registered code format with its ``-list``/``-opt`` variants)
and PVE keywords. Unlike JSON Schema, PVE checks the keywords of a scalar in a fixed order and stops at
the first failure (``format`` before ``pattern`` before ``maxLength`` ...), so :func:`check_prop` walks
them in that order instead of in the schema's key order.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from jsonschema import FormatChecker, TypeChecker, validators
from jsonschema.exceptions import FormatError as JSFormatError
from jsonschema.exceptions import ValidationError
from jsonschema.protocols import Validator

from . import messages as msg
from .compile import Bound, HashFormat
from .errormap import join_path
from .formats import FormatError
from .formats.registry import CODE_FORMATS
from .perl import is_integer, is_number, ref_name, split_list, truthy

Errors = Iterator[ValidationError]
SCALAR_ORDER = ("format", "pattern", "maxLength", "minLength", "maximum", "minimum", "enum")
# PVE checks a scalar's keywords in this order, and the first failure is the only one reported.


def _error(message: str, path: str) -> ValidationError:
    err = ValidationError(message)
    err.path.append(path)
    return err


# --- types: Perl semantics on decoded values ----------------------------------------------------------

def _scalar(value: Any) -> bool:
    return value is not None and ref_name(value) is None


PVE_TYPES = TypeChecker(
    {
        "string": lambda _c, v: _scalar(v),
        "integer": lambda _c, v: isinstance(v, str) and is_integer(v),
        "number": lambda _c, v: isinstance(v, str) and is_number(v),
        "boolean": lambda _c, v: isinstance(v, bool) or v in ("1", "0"),
        "array": lambda _c, v: isinstance(v, list),
        "object": lambda _c, v: isinstance(v, dict),
        "null": lambda _c, v: v is None,
        "any": lambda _c, v: True,
    }
)
_KNOWN_TYPES = frozenset(("string", "integer", "number", "boolean", "array", "object", "null", "any"))


def _type_message(type_name: str, value: Any) -> str:
    if type_name in ("array", "object"):
        return msg.type_failed(type_name)
    ref = ref_name(value)
    return msg.type_failed(type_name, ref if ref else f"'{value}'")


def _kw_type(validator: Validator, type_spec: Any, instance: Any, schema: Mapping[str, Any]) -> Errors:
    if isinstance(type_spec, list):
        if not any(_type_ok(validator, t, instance) for t in type_spec):
            yield ValidationError(msg.type_failed("|".join(type_spec)))
    elif not _type_ok(validator, type_spec, instance):
        yield ValidationError(_type_message(type_spec, instance))


def _type_ok(validator: Validator, type_name: Any, instance: Any) -> bool:
    if not isinstance(type_name, str) or type_name not in _KNOWN_TYPES:
        return True  # PVE does not verify unknown types (e.g. SDN's 'ip')
    return validator.is_type(instance, type_name)


# --- formats ------------------------------------------------------------------------------------------

def _list_checker(fn: Any) -> Any:
    def check(value: str) -> bool:
        for item in split_list(value):
            fn(item)
        return True

    return check


def _opt_checker(fn: Any) -> Any:
    def check(value: str) -> bool:
        if truthy(value):
            fn(value)
        return True

    return check


def _plain_checker(fn: Any) -> Any:
    def check(value: str) -> bool:
        fn(value)
        return True

    return check


def _build_format_checker() -> FormatChecker:
    checker = FormatChecker(formats=())
    for name, fn in CODE_FORMATS.items():
        checker.checks(name, raises=FormatError)(_plain_checker(fn))
        checker.checks(f"{name}-list", raises=FormatError)(_list_checker(fn))
        checker.checks(f"{name}-opt", raises=FormatError)(_opt_checker(fn))
    checker.checks("string", raises=FormatError)(lambda _v: True)
    checker.checks("string-list", raises=FormatError)(lambda _v: True)
    checker.checks("regex", raises=FormatError)(lambda _v: True)
    return checker


PVE_FORMATS = _build_format_checker()


def format_text(validator: Validator, fmt: Any, value: str, path: str) -> str | None:
    """The die text of PVE's ``check_format``, or None when the value passes."""
    from . import propstring  # property strings check their keys with check_object

    if isinstance(fmt, HashFormat):
        return propstring.check(validator, fmt, value, path)
    name = str(fmt)
    hashed = propstring.named(name)
    if hashed is not None:
        return propstring.check(validator, hashed, value, path)
    base, _, suffix = name.rpartition("-")
    if suffix in ("list", "opt") and propstring.named(base) is not None:
        return f"'-{suffix}' format must have code ref, not hash\n"
    checker = validator.format_checker
    if checker is None or name not in checker.checkers:
        return f"undefined format '{name}'\n"
    try:
        checker.check(value, name)
    except JSFormatError as err:
        cause = err.cause
        return cause.text if isinstance(cause, FormatError) else f"{cause}\n"
    return None


# --- the walk -----------------------------------------------------------------------------------------

def check_prop(validator: Validator, value: Any, schema: Mapping[str, Any], path: str) -> Errors:
    """PVE's ``check_prop``: one value against one (compiled) schema; errors carry their key in .path."""
    if "oneOf" in schema:
        yield from _check_one_of(validator, value, schema, path)
    if value is None:
        if schema.get("type") == "null":
            return
        if not (schema.get("optional") or schema.get("alias") or schema.get("group") or "oneOf" in schema):
            yield _error(msg.MISSING, path)
        return
    type_spec = schema.get("type")
    if type_spec is not None:
        failed = next(_kw_type(validator, type_spec, value, schema), None)
        if failed is not None:
            yield _error(failed.message, path)
            return
    if isinstance(value, list):
        items = schema.get("items")
        if isinstance(items, Mapping):
            for index, item in enumerate(value):
                yield from check_prop(validator, item, items, f"{path}[{index}]")
        return
    if isinstance(value, dict):
        if schema.get("properties") is not None or schema.get("additionalProperties"):
            yield from check_object(
                validator, value, schema.get("properties") or {}, schema.get("additionalProperties"), path
            )
        return
    text = value if isinstance(value, str) else ("1" if value else "0")
    for keyword in SCALAR_ORDER:
        if keyword not in schema:
            continue
        if keyword == "format":
            # property strings name their sub-keys after the value's path, so format needs it
            failed = format_text(validator, schema["format"], text, path)
            if failed is not None:
                yield _error(msg.invalid_format(failed), path)
                return
            continue
        failure = next(validator.VALIDATORS[keyword](validator, schema[keyword], text, schema), None)
        if failure is not None:
            yield _error(failure.message, path)
            return


def _check_one_of(validator: Validator, value: Any, schema: Mapping[str, Any], path: str) -> Errors:
    # Only the untyped form of PVE's oneOf is reachable through the API: try each alternative.
    if schema.get("type-property") or value is None:
        return
    for alternative in schema["oneOf"]:
        if next(check_prop(validator, value, alternative, path), None) is None:
            return


def check_object(
    validator: Validator,
    value: Mapping[str, Any],
    properties: Mapping[str, Mapping[str, Any]],
    additional: Any,
    path: str,
) -> Errors:
    """PVE's ``check_object``: every declared property, then ``requires`` and unknown keys."""
    for key, sub in properties.items():
        yield from check_prop(validator, value.get(key), sub, join_path(path, key))
    for key in value:
        sub = properties.get(key)
        if sub is not None:
            required = sub.get("requires")
            if isinstance(required, str) and value.get(required) is None:
                yield _error(msg.requires(join_path(path, key)), join_path(path, required))
            elif isinstance(required, Mapping):
                yield from check_prop(validator, value, required, path)
            continue
        if isinstance(additional, Mapping):
            yield from check_prop(validator, value[key], additional, join_path(path, key))
        elif additional is not None and not additional:
            yield _error(msg.UNKNOWN, join_path(path, key))


# --- scalar keywords, in PVE's order ------------------------------------------------------------------

def _kw_pattern(validator: Validator, pattern: Any, instance: str, schema: Mapping[str, Any]) -> Errors:
    if pattern.search(instance) is None:
        yield ValidationError(msg.PATTERN)


def _kw_max_length(validator: Validator, bound: Bound, instance: str, schema: Mapping[str, Any]) -> Errors:
    if len(instance) > bound.value:
        yield ValidationError(msg.max_length(bound.text))


def _kw_min_length(validator: Validator, bound: Bound, instance: str, schema: Mapping[str, Any]) -> Errors:
    if len(instance) < bound.value:
        yield ValidationError(msg.min_length(bound.text))


def _kw_maximum(validator: Validator, bound: Bound, instance: str, schema: Mapping[str, Any]) -> Errors:
    if is_number(instance) and float(instance) > bound.value:
        yield ValidationError(msg.maximum(bound.text))


def _kw_minimum(validator: Validator, bound: Bound, instance: str, schema: Mapping[str, Any]) -> Errors:
    if is_number(instance) and float(instance) < bound.value:
        yield ValidationError(msg.minimum(bound.text))


def _kw_enum(validator: Validator, choices: list[str], instance: str, schema: Mapping[str, Any]) -> Errors:
    if instance not in choices:
        yield ValidationError(msg.enum(instance, choices))


def _kw_root(validator: Validator, root: Any, instance: Any, schema: Mapping[str, Any]) -> Errors:
    yield from check_prop(validator, instance, root, "")


PVEValidator = validators.create(
    meta_schema={"$id": "urn:pvegateway:pve-schema-dialect"},
    validators={
        "pve": _kw_root,
        "pattern": _kw_pattern,
        "maxLength": _kw_max_length,
        "minLength": _kw_min_length,
        "maximum": _kw_maximum,
        "minimum": _kw_minimum,
        "enum": _kw_enum,
    },
    type_checker=PVE_TYPES,
    format_checker=PVE_FORMATS,
    version="pve",
)
