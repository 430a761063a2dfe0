"""The per-operation request validator: PVE's legacy normalisation, then ``PVE::JSONSchema::validate``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import PVEError
from .checker import PVE_FORMATS, PVEValidator
from .dialect import EMPTY, Properties, read
from .errormap import ErrorMap
from .perl import truthy

# Parameters found valid, per validator: clients repeat the same requests (a status poll, a list), and
# validation is a pure function of the parameters (formats are syntax; the cluster's state is checked
# by the handlers). Only short all-string parameter sets (what a query string or form gives) are kept,
# and only a bounded number of them, oldest out first: at most about a megabyte whatever clients send.
_KNOWN_VALID: dict[tuple[object, tuple[tuple[str, Any], ...]], None] = {}
KNOWN_VALID_SIZE = 1024
KNOWN_VALID_CHARS = 512


class ParamValidator:
    """One per operation; :meth:`validate` checks the merged parameters in place.

    The parameters are read (:mod:`.dialect`) on the operation's first request and kept: reading every
    operation's at startup would add to every start (``make bench`` prints how much) the work for
    operations most runs never call.
    """

    __slots__ = ("_built", "_join", "_parameters", "_properties", "_validator", "_wrap")

    def __init__(self, parameters: Mapping[str, Any]) -> None:
        self._parameters = parameters
        self._built = False

    def _build(self) -> None:
        node = read(self._parameters)
        self._validator = PVEValidator({"pve": node}, format_checker=PVE_FORMATS)
        properties: Properties = node.properties or EMPTY
        self._properties = frozenset(properties)
        # RESTHandler's normalize_legacy_param_formats: arrays joined for '-list' formats, scalars
        # wrapped for 'type: array'.
        self._join = frozenset(
            k for k, s in properties.items()
            if s.type == "string" and isinstance(s.format, str) and s.format.endswith("-list")
        )
        self._wrap = frozenset(k for k, s in properties.items() if s.type == "array")
        self._built = True

    @property
    def built(self) -> bool:
        return self._built

    def normalize(self, params: dict[str, Any]) -> None:
        if not self._built:
            self._build()
        for key in self._join:
            value = params.get(key)
            if isinstance(value, list) and value:
                params[key] = ",".join("" if v is None else v if isinstance(v, str) else str(v) for v in value)
        for key in self._wrap:
            value = params.get(key)
            if isinstance(value, str) and truthy(value):  # only plain scalars, never HASH or booleans
                params[key] = [value]

    def errors(self, params: Mapping[str, Any]) -> ErrorMap:
        if not self._built:
            self._build()
        errors = ErrorMap()
        for error in self._validator.iter_errors(params):
            errors.add(str(error.path[0]) if error.path else "", error.message)
        return errors

    def validate(self, params: dict[str, Any]) -> None:
        """Normalise like RESTHandler, then raise PVE's 400 if anything is wrong."""
        self.normalize(params)
        kept = all(type(value) is str for value in params.values()) and \
            sum(len(name) + len(value) for name, value in params.items()) <= KNOWN_VALID_CHARS
        key = (self, tuple(params.items())) if kept else None
        if key is not None and key in _KNOWN_VALID:
            return
        errors = self.errors(params)
        if errors:
            raise PVEError.params(errors)
        if key is not None:
            if len(_KNOWN_VALID) >= KNOWN_VALID_SIZE:
                del _KNOWN_VALID[next(iter(_KNOWN_VALID))]
            _KNOWN_VALID[key] = None
