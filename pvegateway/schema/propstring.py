"""PVE property strings (``parse_property_string``): ``key=value,...`` checked key by key.

No escaping exists: values cannot contain ``,``. A part without ``=`` goes to the ``default_key``;
``alias``/``keyAlias`` rename keys (``virtio=BC:24:...`` sets ``model=virtio`` and ``macaddr``) and
refuse a key already given under its own name; booleans accept ``on``/``yes``/``true`` spellings, bare
or keyed (pve-common's own tests: ``on`` alone is ``enabled=1``). The parsed hash is then checked
with ``check_object`` and additional properties refused (:func:`.checker.check_property_string`).
"""

from __future__ import annotations

import re

from .dialect import PropertyString
from .perl import truthy

_KEY_VALUE = re.compile(r"^([^=]+)=(.+)$")
_BLANK = re.compile(r"^\s*$")
_TRUE = re.compile(r"^(1|on|yes|true)$", re.IGNORECASE)
_FALSE = re.compile(r"^(0|off|no|false)$", re.IGNORECASE)


class ParseError(Exception):
    """The text ``parse_property_string`` dies with (JSONSchema.pm:1068-1138)."""


def parse_boolean(text: str) -> str | None:
    if _TRUE.match(text):
        return "1"
    if _FALSE.match(text):
        return "0"
    return None


def parse(fmt: PropertyString, data: str) -> dict[str, str]:
    """Split ``data`` into its keys as PVE does; raises ParseError with PVE's die text."""
    result: dict[str, str] = {}
    default_used = False
    for part in data.split(","):
        if _BLANK.match(part):
            continue
        match = _KEY_VALUE.match(part)
        if match:
            key, value = match.group(1), match.group(2)
            if key in result:
                raise ParseError(f"duplicate key in comma-separated list property: {key}\n")
            schema = fmt.keys.get(key)
            if schema is not None and schema.alias is not None:
                key_alias = schema.key_alias
                if key_alias is not None:
                    if key_alias in result:
                        raise ParseError(f"key alias '{key_alias}' is already defined\n")
                    result[key_alias] = key
                key = schema.alias
                if key in result:  # e.g. macaddr=...,virtio=...: the alias would overwrite silently
                    raise ParseError(f"key '{key}' is already defined (via alias)\n")
                schema = fmt.keys.get(key)
            # an unknown key is kept: check_object reports it as not defined in the schema
            if schema is not None and schema.type == "boolean":
                value = parse_boolean(value) or value
            result[key] = value
        elif "=" not in part:
            if default_used or fmt.default_key is None:
                if fmt.default_key is None:
                    raise ParseError("value without key, but schema does not define a default key\n")
                raise ParseError(f"duplicate key in comma-separated list property: {fmt.default_key}\n")
            default_used = True
            if truthy(result.get(fmt.default_key)):
                raise ParseError(f"duplicate key in comma-separated list property: {fmt.default_key}\n")
            default_schema = fmt.keys.get(fmt.default_key)
            if default_schema is not None and default_schema.type == "boolean":
                part = parse_boolean(part) or part  # a bare 'on' is enabled=1, as with the key
            result[fmt.default_key] = part
        else:
            raise ParseError("missing key in comma-separated list property\n")
    return result
