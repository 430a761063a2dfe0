"""PVE's exact validation texts (pve-common ``PVE::JSONSchema``), in one place."""

from __future__ import annotations

from collections.abc import Sequence

MISSING = "property is missing and it is not optional"
UNKNOWN = "property is not defined in schema and the schema does not allow additional properties"
PATTERN = "value does not match the regex pattern"
URI_CONFLICT = "duplicate parameter (already defined in URI) with conflicting values!"


def type_failed(type_name: str, got: str | None = None) -> str:
    if got is None:
        return f"type check ('{type_name}') failed"
    return f"type check ('{type_name}') failed - got {got}"


def max_length(limit: str) -> str:
    return f"value may only be {limit} characters long"


def min_length(limit: str) -> str:
    return f"value must be at least {limit} characters long"


def maximum(limit: str) -> str:
    return f"value must have a maximum value of {limit}"


def minimum(limit: str) -> str:
    return f"value must have a minimum value of {limit}"


def enum(value: str, choices: Sequence[str]) -> str:
    return f"value '{value}' does not have a value in the enumeration '{', '.join(choices)}'"


def requires(by: str) -> str:
    return f"missing property required by '{by}'"


def invalid_format(text: str) -> str:
    return f"invalid format - {text}"
