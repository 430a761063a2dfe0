"""PVE property strings (``parse_property_string``): ``key=value,...`` checked key by key.

No escaping exists: values cannot contain ``,``. A part without ``=`` goes to the ``default_key``;
``alias``/``keyAlias`` rename keys (``virtio=BC:24:...`` sets ``model=virtio`` and ``macaddr``) and
refuse a key already given under its own name; booleans accept ``on``/``yes``/``true`` spellings, bare
or keyed (pve-common's own tests: ``on`` alone is ``enabled=1``). The parsed hash is then checked
with ``check_object`` and additional properties refused. Errors come back as PVE's nested text:
``format error\\n`` then one ``path.key: message\\n`` line per key.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from .compile import HashFormat, compile_hash_format
from .errormap import ErrorMap
from .formats import FormatError
from .formats.registry import HASH_FORMATS, HASH_VALIDATORS
from .perl import truthy

_KEY_VALUE = re.compile(r"^([^=]+)=(.+)$")
_BLANK = re.compile(r"^\s*$")
_TRUE = re.compile(r"^(1|on|yes|true)$", re.IGNORECASE)
_FALSE = re.compile(r"^(0|off|no|false)$", re.IGNORECASE)


class _ParseError(Exception):
    pass


@cache
def named(name: str) -> HashFormat | None:
    raw = HASH_FORMATS.get(name)
    return compile_hash_format(raw, name) if raw is not None else None


def parse_boolean(text: str) -> str | None:
    if _TRUE.match(text):
        return "1"
    if _FALSE.match(text):
        return "0"
    return None


def parse(fmt: HashFormat, data: str) -> dict[str, str]:
    """Split ``data`` into its keys as PVE does; raises _ParseError with PVE's die text."""
    result: dict[str, str] = {}
    default_used = False
    for part in data.split(","):
        if _BLANK.match(part):
            continue
        match = _KEY_VALUE.match(part)
        if match:
            key, value = match.group(1), match.group(2)
            if key in result:
                raise _ParseError(f"duplicate key in comma-separated list property: {key}\n")
            schema = fmt.keys.get(key)
            if schema is not None and schema.get("alias"):
                key_alias = schema.get("keyAlias")
                if key_alias:
                    if key_alias in result:
                        raise _ParseError(f"key alias '{key_alias}' is already defined\n")
                    result[key_alias] = key
                key = str(schema["alias"])
                if key in result:  # e.g. macaddr=...,virtio=...: the alias would overwrite silently
                    raise _ParseError(f"key '{key}' is already defined (via alias)\n")
                schema = fmt.keys.get(key)
            # an unknown key is kept: check_object reports it as not defined in the schema
            if schema is not None and schema.get("type") == "boolean":
                value = parse_boolean(value) or value
            result[key] = value
        elif "=" not in part:
            if default_used or fmt.default_key is None:
                if fmt.default_key is None:
                    raise _ParseError("value without key, but schema does not define a default key\n")
                raise _ParseError(f"duplicate key in comma-separated list property: {fmt.default_key}\n")
            default_used = True
            if truthy(result.get(fmt.default_key)):
                raise _ParseError(f"duplicate key in comma-separated list property: {fmt.default_key}\n")
            default_schema = fmt.keys.get(fmt.default_key)
            if default_schema is not None and default_schema.get("type") == "boolean":
                part = parse_boolean(part) or part  # a bare 'on' is enabled=1, as with the key
            result[fmt.default_key] = part
        else:
            raise _ParseError("missing key in comma-separated list property\n")
    return result


def check(validator: Any, fmt: HashFormat, data: str, path: str) -> str | None:
    """The text ``check_format`` dies with for a property string, or None when it is valid."""
    from .checker import check_object

    try:
        parsed = parse(fmt, data)
    except _ParseError as err:
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


