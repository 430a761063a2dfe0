"""PVE's ``check_prop``/``check_object`` as a jsonschema validator class.

The class is built once with ``jsonschema.validators.create``: a PVE type checker (Perl string
semantics), a PVE format checker (every registered code format with its ``-list``/``-opt`` variants)
and PVE keywords. It walks schemas as :mod:`.dialect` reads them: unlike JSON Schema, PVE checks the
keywords of a scalar in a fixed order and stops at the first failure (``format`` before ``pattern``
before ``maxLength`` ...), so :func:`check_prop` walks them in that order instead of in the schema's
key order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import lru_cache
from typing import Any, cast

from jsonschema import FormatChecker, TypeChecker, validators
from jsonschema.exceptions import ValidationError

from . import messages as msg
from . import propstring
from .dialect import EMPTY, Bound, Node, Pattern, Properties, PropertyString, named_property_string
from .errormap import ErrorMap, join_path
from .formats import FormatError
from .formats.registry import CODE_FORMATS, HASH_VALIDATORS
from .perl import is_integer, is_number, ref_name, split_list, truthy

Errors = Iterator[ValidationError]
# A PVEValidator instance; jsonschema's Validator protocol does not declare format_checker.
Validator = Any


def _error(message: str, path: str) -> ValidationError:
    err = ValidationError(message)
    err.path.append(path)
    return err


# --- types: Perl semantics on decoded values ----------------------------------------------------------

def _is_string(_checker: object, value: object) -> bool:
    # not undef and no ref (bool, list and dict are JSON::PP::Boolean, ARRAY and HASH)
    return value is not None and not isinstance(value, bool | list | dict)


def _is_integer(_checker: object, value: object) -> bool:
    return isinstance(value, str) and is_integer(value)


def _is_number(_checker: object, value: object) -> bool:
    return isinstance(value, str) and is_number(value)


def _is_boolean(_checker: object, value: object) -> bool:
    return isinstance(value, bool) or value in ("1", "0")


def _is_array(_checker: object, value: object) -> bool:
    return isinstance(value, list)


def _is_object(_checker: object, value: object) -> bool:
    return isinstance(value, dict)


def _is_null(_checker: object, value: object) -> bool:
    return value is None


def _is_any(_checker: object, _value: object) -> bool:
    return True


_TYPE_FUNCS: dict[str, Callable[[object, object], bool]] = {
    "string": _is_string, "integer": _is_integer, "number": _is_number, "boolean": _is_boolean,
    "array": _is_array, "object": _is_object, "null": _is_null, "any": _is_any,
}
# jsonschema's stubs type these callables with one argument; at run time they receive two.
PVE_TYPES = TypeChecker(cast(Any, dict(_TYPE_FUNCS)))


def _type_message(type_name: str, value: Any) -> str:
    if type_name in ("array", "object"):
        return msg.type_failed(type_name)
    ref = ref_name(value)
    return msg.type_failed(type_name, ref if ref else f"'{value}'")


def _type_failure(validator: Validator, type_spec: Any, instance: Any) -> str | None:
    """The ``type`` keyword's message, or None when the instance has (one of) the type(s)."""
    if isinstance(type_spec, tuple):
        if not any(_type_ok(validator, t, instance) for t in type_spec):
            return msg.type_failed("|".join(type_spec))
        return None
    return None if _type_ok(validator, type_spec, instance) else _type_message(type_spec, instance)


def _type_ok(validator: Validator, type_name: Any, instance: Any) -> bool:
    test = _TYPE_FUNCS.get(type_name) if isinstance(type_name, str) else None
    if test is None:
        return True  # PVE does not verify unknown types (e.g. SDN's 'ip')
    if validator.TYPE_CHECKER is PVE_TYPES:
        # what TypeChecker.is_type calls for these names, without its lookup and exception plumbing
        return test(PVE_TYPES, instance)
    return bool(validator.is_type(instance, type_name))


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


@lru_cache(maxsize=1024)
def _named_format(name: str) -> tuple[PropertyString | None, str | None]:
    """A format name's property-string definition, or the text refusing its -list/-opt variant.

    Depends on the static registry only; the names come from the schemas, never from requests.
    """
    hashed = named_property_string(name)
    if hashed is not None:
        return hashed, None
    base, _, suffix = name.rpartition("-")
    if suffix in ("list", "opt") and named_property_string(base) is not None:
        return None, f"'-{suffix}' format must have code ref, not hash\n"
    return None, None


_PASSED_MAX = 4096
_passed: dict[tuple[int, str, str], PropertyString] = {}
# Property strings that passed, keyed by (id of their format, value, path), each with its format so a
# reused id never matches: a passing check has no result but None, and the same text passes again.
# Only for PVEValidator with PVE_FORMATS (the request path); bounded by clearing when full.


def _check_hash(validator: Validator, fmt: PropertyString, value: str, path: str) -> str | None:
    if validator.__class__ is not PVEValidator or validator.format_checker is not PVE_FORMATS:
        return check_property_string(validator, fmt, value, path)
    key = (id(fmt), value, path)
    if _passed.get(key) is fmt:
        return None
    failed = check_property_string(validator, fmt, value, path)
    if failed is None:
        if len(_passed) >= _PASSED_MAX:
            _passed.clear()
        _passed[key] = fmt
    return failed


def check_property_string(validator: Validator, fmt: PropertyString, data: str, path: str) -> str | None:
    """The text ``check_format`` dies with for a property string, or None when it is valid: PVE's
    nested text, ``format error\\n`` then one ``path.key: message\\n`` line per key."""
    try:
        parsed = propstring.parse(fmt, data)
    except propstring.ParseError as err:
        return str(err)
    errors = ErrorMap()
    for error in check_object(validator, parsed, fmt.keys, False, path):
        errors.add(str(error.path[0]) if error.path else "", error.message)
    if errors:
        return "format error\n" + "".join(f"{key}: {text}\n" for key, text in errors.items())
    post = HASH_VALIDATORS.get(fmt.name) if fmt.name else None
    if post is not None:
        try:
            post(dict(parsed))
        except FormatError as err:
            return err.text
    return None


def format_text(validator: Validator, fmt: Any, value: str, path: str) -> str | None:
    """The die text of PVE's ``check_format``, or None when the value passes."""
    if isinstance(fmt, PropertyString):
        return _check_hash(validator, fmt, value, path)
    name = str(fmt)
    hashed, refused = _named_format(name)
    if hashed is not None:
        return _check_hash(validator, hashed, value, path)
    if refused is not None:
        return refused
    checker = validator.format_checker
    entry = checker.checkers.get(name) if checker is not None else None
    if entry is None:
        return f"undefined format '{name}'\n"
    # FormatChecker.check without the jsonschema FormatError it builds around a failure's cause
    func, raises = entry
    result: object = None
    cause: BaseException | None = None
    try:
        result = func(value)
    except raises as err:
        cause = err
    if result:
        return None
    return cause.text if isinstance(cause, FormatError) else f"{cause}\n"


# --- the walk -----------------------------------------------------------------------------------------

def check_prop(validator: Validator, value: Any, node: Node, path: str, instance_type: Any = None) -> Errors:
    """PVE's ``check_prop``: one value against one schema node; errors carry their key in .path."""
    optional_for_type = False
    one_of = node.one_of
    if one_of is not None:
        if node.type_property is not None:
            # only the alternative for the instance's type applies; without a type it is optional
            optional_for_type = True
            for inner in one_of if instance_type is not None else ():
                types = inner.instance_types
                if types is None:
                    yield _error("missing 'instance-types' in oneOf alternative", path)
                    return
                if instance_type not in types:
                    continue
                optional_for_type = inner.optional
                yield from check_prop(validator, value, inner, path)
        elif value is not None:
            yield from _check_untyped_one_of(validator, value, one_of, path)
    elif instance_type is not None and node.instance_types is None:
        yield _error("missing 'instance-types'", path)
        return
    if value is None:
        if node.absent_ok is None and not optional_for_type:
            yield _error(msg.MISSING, path)
        return
    type_spec = node.type
    if type_spec is not None:
        type_failed = _type_failure(validator, type_spec, value)
        if type_failed is not None:
            yield _error(type_failed, path)
            return
    if isinstance(value, list):
        items = node.items
        if items is not None:
            for index, item in enumerate(value):
                yield from check_prop(validator, item, items, f"{path}[{index}]")
        return
    if isinstance(value, dict):
        properties = node.properties
        if properties is not None or node.additional:
            yield from check_object(validator, value, properties or EMPTY, node.additional, path)
        return
    text = value if isinstance(value, str) else ("1" if value else "0")
    for keyword, argument in node.scalar_checks:
        if keyword == "format":
            # property strings name their sub-keys after the value's path, so format needs it
            format_failed = format_text(validator, argument, text, path)
            if format_failed is not None:
                yield _error(msg.invalid_format(format_failed), path)
                return
            continue
        keyword_fn = validator.VALIDATORS[keyword]
        direct = _SCALAR_FAILURES.get(keyword_fn)
        if direct is not None:
            # one of ours below: the same test, without a generator per keyword
            failed = direct(argument, text)
        else:
            failure = next(keyword_fn(validator, argument, text, node.source), None)
            failed = None if failure is None else failure.message
        if failed is not None:
            yield _error(failed, path)
            return


def _check_untyped_one_of(validator: Validator, value: Any, alternatives: tuple[Node, ...], path: str) -> Errors:
    """Valid when one alternative passes; otherwise the first alternative's complaints."""
    first: list[ValidationError] | None = None
    for inner in alternatives:
        errors = list(check_prop(validator, value, inner, path))
        if not errors:
            return
        first = errors if first is None else first
    yield from first or ()


def _instance_type(sub: Node, value: Mapping[str, Any]) -> Any:
    prop = sub.type_property
    return value.get(prop) if prop is not None else None


def check_object(
    validator: Validator,
    value: Mapping[str, Any],
    properties: Properties,
    additional: Node | bool | None,
    path: str,
) -> Errors:
    """PVE's ``check_object``: every declared property, then ``requires`` and unknown keys."""
    # same result as visiting every property: an absent one outside when_absent cannot fail
    prefix = f"{path}." if path else ""  # join_path, inlined for the hot loop
    for key, item in value.items():
        present = properties.get(key)
        if present is not None:
            type_property = present.type_property
            instance_type = value.get(type_property) if type_property is not None else None
            yield from check_prop(validator, item, present, prefix + key, instance_type)
    for key in properties.when_absent:
        if key not in value:
            absent = properties[key]
            yield from check_prop(validator, None, absent, join_path(path, key), _instance_type(absent, value))
    for key in value:
        known = properties.get(key)
        if known is not None:
            required = known.requires
            if required is None:
                pass  # the common case
            elif isinstance(required, str):
                if value.get(required) is None:
                    yield _error(msg.requires(join_path(path, key)), join_path(path, required))
            else:
                yield from check_prop(validator, value, required, path)
            if known.one_of is None or _type_matches(known.one_of, _instance_type(known, value)):
                continue
        if isinstance(additional, Node):
            yield from check_prop(validator, value[key], additional, join_path(path, key))
        elif additional is not None and not additional:
            yield _error(msg.UNKNOWN, join_path(path, key))


def _type_matches(alternatives: tuple[Node, ...], instance_type: Any) -> bool:
    """Whether a oneOf property has an alternative for the instance's type (else it is unknown)."""
    for alternative in alternatives:
        types = alternative.instance_types
        if types is None or instance_type in types:
            return True
    return False


# --- scalar keywords, in PVE's order ------------------------------------------------------------------
# Each keyword is a plain test returning PVE's message (None on success), wrapped as a jsonschema keyword.

def _pattern_failure(pattern: Pattern, instance: str) -> str | None:
    return None if pattern.matches(instance) else msg.PATTERN


def _max_length_failure(bound: Bound, instance: str) -> str | None:
    return msg.max_length(bound.text) if len(instance) > bound.value else None


def _min_length_failure(bound: Bound, instance: str) -> str | None:
    return msg.min_length(bound.text) if len(instance) < bound.value else None


def _maximum_failure(bound: Bound, instance: str) -> str | None:
    return msg.maximum(bound.text) if is_number(instance) and float(instance) > bound.value else None


def _minimum_failure(bound: Bound, instance: str) -> str | None:
    return msg.minimum(bound.text) if is_number(instance) and float(instance) < bound.value else None


def _enum_failure(choices: Sequence[str], instance: str) -> str | None:
    return msg.enum(instance, choices) if instance not in choices else None


_SCALAR_TESTS: dict[str, Callable[[Any, str], str | None]] = {
    "pattern": _pattern_failure,
    "maxLength": _max_length_failure,
    "minLength": _min_length_failure,
    "maximum": _maximum_failure,
    "minimum": _minimum_failure,
    "enum": _enum_failure,
}


def _as_keyword(test: Callable[[Any, str], str | None]) -> Callable[..., Errors]:
    def keyword(validator: Validator, argument: Any, instance: str, schema: Mapping[str, Any]) -> Errors:
        failed = test(argument, instance)
        if failed is not None:
            yield ValidationError(failed)

    return keyword


_SCALAR_KEYWORDS = {name: _as_keyword(test) for name, test in _SCALAR_TESTS.items()}
# check_prop calls the plain test when the validator's keyword is one of these (it always is for PVEValidator)
_SCALAR_FAILURES: dict[object, Callable[[Any, str], str | None]] = {
    _SCALAR_KEYWORDS[name]: test for name, test in _SCALAR_TESTS.items()
}


def _kw_root(validator: Validator, root: Node, instance: Any, schema: Mapping[str, Any]) -> Errors:
    yield from check_prop(validator, instance, root, "")


PVEValidator = validators.create(
    meta_schema={"$id": "urn:pvegateway:pve-schema-dialect"},
    validators=cast(Any, {"pve": _kw_root, **_SCALAR_KEYWORDS}),
    type_checker=PVE_TYPES,
    format_checker=PVE_FORMATS,
    version="pve",
)
