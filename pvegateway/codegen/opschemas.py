"""Per-operation JSON Schemas (Draft 2020-12) of a loaded tree: what client generators want besides OpenAPI.

One document: ``{"version", "dialect", "operations": {"GET /nodes/{node}/qemu": {"name", "parameters",
"returns"}}}``. ``parameters`` describes every parameter of the call as one object (path, query and
body together, as PVE merges them before validating); ``returns`` describes the envelope's ``data``.
Both are standalone schemas (each names its ``$schema``), converted by the same ``Converter`` as the
OpenAPI document, so the two never disagree: booleans are ``0``/``1`` integers with
``x-pve-type: boolean``, and what JSON Schema cannot say (PVE formats, property strings, Perl regexes)
stays in ``x-pve-*`` keys, which 2020-12 validators ignore.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ..openapi.convert import Converter

if TYPE_CHECKING:
    from ..apidoc.schema import Schema

DIALECT = "https://json-schema.org/draft/2020-12/schema"
JSONDict = dict[str, Any]


def parameters_schema(parameters: Mapping[str, Any], convert: Callable[[Any], JSONDict]) -> JSONDict:
    """An object schema of every parameter. ``convert``'s results are shared: copied, never changed."""
    converted = convert(parameters) if parameters else {}
    return {"$schema": DIALECT, **converted, "type": "object"}


def returns_schema(returns: Mapping[str, Any], convert: Callable[[Any], JSONDict]) -> JSONDict:
    """The schema of the answer's ``data``; an operation that documents none returns anything."""
    return {"$schema": DIALECT, **(convert(returns) if returns else {})}


def build_operation_schemas(schema: Schema) -> JSONDict:
    convert = Converter().convert
    operations: JSONDict = {}
    for op in schema.operations:
        operations[op.key] = {
            "name": op.name,
            "parameters": parameters_schema(op.parameters, convert),
            "returns": returns_schema(op.returns, convert),
        }
    return {"version": schema.version, "dialect": DIALECT, "operations": operations}
