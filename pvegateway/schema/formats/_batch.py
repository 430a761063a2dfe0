"""pve-manager's ``pve-command-batch`` format (``PVE::API2::Nodes::verify_command_batch``).

The value is decoded with ``decode_json`` and checked with ``PVE::JSONSchema::validate``
against an array of ``{path: string, method: (GET|POST|PUT|DELETE), args?: object}``. A schema
failure is reported as the stringified ``PVE::Exception``: ``400 Parameter verification
failed.\\n`` followed by one ``path: message\\n`` line per error (Perl hash order; sorted here).
"""

from __future__ import annotations

from typing import Any

from ..perl import ref_name
from ._jsonxs import Bool, JsonXsError, decode_json
from ._perl import PerlRe

# schema ``pattern`` checks use ``m/^$pattern$/``, so Perl's ``$``
_METHOD = PerlRe("(GET|POST|PUT|DELETE)", dollar=True)


def _perl_ref(value: Any) -> str | None:
    """``ref($value)`` of a decoded JSON value ('' for plain scalars, None for undef)."""
    if value is None:
        return None
    if isinstance(value, Bool):  # decode_json's booleans; request parameters use Python's bool
        return "JSON::PP::Boolean"
    return ref_name(value) or ""


def _check_item(item: Any, path: str, errors: dict[str, str]) -> None:
    ref = _perl_ref(item)
    if ref is None:
        errors[path] = "property is missing and it is not optional"
        return
    if ref != "HASH":
        errors[path] = "type check ('object') failed"
        return
    for key in ("path", "method"):
        value = item.get(key)
        ref = _perl_ref(value)
        if ref is None:
            errors[f"{path}.{key}"] = "property is missing and it is not optional"
        elif ref:
            errors[f"{path}.{key}"] = f"type check ('string') failed - got {ref}"
        elif key == "method" and not _METHOD(_perl_str(value)):
            errors[f"{path}.{key}"] = "value does not match the regex pattern"
    args = item.get("args")
    if _perl_ref(args) not in (None, "HASH"):
        errors[f"{path}.args"] = "type check ('object') failed"


def _perl_str(value: Any) -> str:
    if isinstance(value, float):
        return repr(value)  # never one of the method names either way
    return str(value)


def command_batch_error(value: str) -> str | None:
    """The message ``verify_command_batch`` dies with, or None if the value is accepted."""
    try:
        commands = decode_json(value)
    except JsonXsError as err:
        return f"commands param did not contain valid JSON: {err}\n"
    errors: dict[str, str] = {}
    ref = _perl_ref(commands)
    if ref is None:
        errors["_root"] = "property is missing and it is not optional"
    elif ref != "ARRAY":
        errors["_root"] = "type check ('array') failed"
    else:
        for index, item in enumerate(commands):
            _check_item(item, f"[{index}]", errors)
    if not errors:
        return None
    lines = "".join(f"{key}: {errors[key]}\n" for key in sorted(errors))
    return f"commands is not a valid array of commands: 400 Parameter verification failed.\n{lines}"
