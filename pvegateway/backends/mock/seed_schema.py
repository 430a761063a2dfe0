"""The seed format as a JSON Schema (``pvegateway seed schema`` prints it), checked on every seed.

Made from :mod:`.state`'s dataclasses, the one place the fields are defined: a field without a default
is required, its annotation gives the JSON type, and a mapping of objects the cluster keeps by id
(a storage's volumes, a guest's snapshots, a user's tokens) is a list in a seed, as :mod:`.snapshot`
writes it. :func:`check` gives the first problem as a path and a reason a user can act on.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections import OrderedDict
from collections.abc import Mapping
from functools import cache
from typing import Any, Literal, Union, get_args, get_origin

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from . import faults, state
from .store.data import ConfigData

Schema = dict[str, Any]
_SCALARS: Mapping[Any, Schema] = {str: {"type": "string"}, int: {"type": "integer"}, bool: {"type": "boolean"},
                                  float: {"type": "number"}}
# fields a dump leaves out (code, not data) and fields kept by id that a seed lists
_NOT_DATA = frozenset({"finish", "cancel"})


def _type(hint: Any) -> Schema:
    if hint in _SCALARS:
        return dict(_SCALARS[hint])
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        options = [_type(a) for a in get_args(hint)]
        return {"anyOf": options}
    if origin is Literal:
        return {"enum": list(get_args(hint))}
    if origin in (list, frozenset, set, tuple):
        args = get_args(hint)
        return {"type": "array", "items": _type(args[0]) if args else {}}
    if origin in (dict, OrderedDict):
        args = get_args(hint)
        value = args[1] if len(args) == 2 else Any
        if dataclasses.is_dataclass(value):  # kept by id, listed in a seed
            return {"type": "array", "items": _object(value)}
        if get_origin(value) is dict and len(get_args(value)) == 2 and dataclasses.is_dataclass(get_args(value)[1]):
            return {"type": "array", "items": _object(get_args(value)[1])}  # volumes: node -> volid -> Volume
        return {"type": "object"}
    if hint is type(None):
        return {"type": "null"}
    return {}


def _object(cls: Any, *, extra: Schema | None = None, skip: frozenset[str] = frozenset()) -> Schema:
    hints = typing.get_type_hints(cls)
    props: Schema = {}
    required: list[str] = []
    for f in dataclasses.fields(cls):
        if f.name in _NOT_DATA or f.name in skip:
            continue
        props[f.name] = _type(hints[f.name])
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            required.append(f.name)
    props.update(extra or {})
    return {"type": "object", "properties": props, "required": required, "additionalProperties": False}


def _seed_schema() -> Schema:
    role = {"type": "object", "required": ["roleid", "privs"], "additionalProperties": False,
            "properties": {"roleid": {"type": "string"}, "privs": {"type": "array", "items": {"type": "string"}},
                           "special": {"type": "boolean"}}}
    mapping = {"type": "object", "additionalProperties": {"type": "object"}}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "pvegateway mock seed",
        "description": "A cluster for 'pvegateway serve --mode mock --seed FILE' (also --state files and "
                       "POST /_gateway/seed). Every section may be left out.",
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "format": {"const": 1},
            "name": {"type": "string"},
            "clock": {"type": ["integer", "null"]},
            "root_password": {"type": ["string", "null"]},
            "nodes": {"type": "array", "items": _object(state.Node)},
            "storages": {"type": "array", "items": _object(state.Storage)},
            "guests": {"type": "array", "items": _object(state.Guest)},
            "users": {"type": "array", "items": _object(state.User)},
            "groups": {"type": "array", "items": _object(state.Group)},
            "roles": {"type": "array", "items": role},
            "acl": {"type": "array", "items": _object(state.AclEntry)},
            "pools": {"type": "array", "items": _object(state.Pool)},
            "ha": mapping,
            "options": {"type": "object"},
            "tasks": {"type": "array", "items": _object(state.Task)},
            "counters": {"type": "object", "additionalProperties": False,
                         "properties": {"pid": {"type": "integer"}, "mac": {"type": "integer"}}},
            "store": _object(ConfigData),
            "faults": {"type": "array", "items": _object(faults.Fault)},
        },
    }


SEED_SCHEMA: Schema = _seed_schema()


@cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(SEED_SCHEMA)


def check(data: Any) -> None:
    """ValueError naming where ``data`` breaks the seed format and why; nothing if it is a seed."""
    error = best_match(_validator().iter_errors(data))
    if error is None:
        return
    where = "/".join(str(p) for p in error.absolute_path) or "the top level"
    raise ValueError(f"seed: {where}: {error.message}")
