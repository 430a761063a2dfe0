"""Turn a schema in PVE's dialect (as the apidoc tree has it) into the form the checker reads.

Done once at startup: Perl truthiness of ``optional``, numeric keywords given as strings, ``enum: null``,
Perl regexes compiled with PVE's half anchoring, enum values as Perl strings, inline property-string
formats compiled recursively. Bounds keep the text Perl would print in messages.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .perl import perl_str, truthy
from .perlre import compile_anchored


@dataclass(frozen=True, slots=True)
class Bound:
    value: float
    text: str


def _bound(raw: Any) -> Bound | None:
    if raw is None:
        return None
    text = perl_str(raw)
    try:
        return Bound(float(text), text)
    except ValueError:
        return None


Memo = dict[int, tuple[Mapping[str, Any], Any]]


def compile_schema(raw: Mapping[str, Any], memo: Memo | None = None) -> dict[str, Any]:
    """The checker's view of one (sub)schema; unknown keys are kept as they are.

    ``memo`` (one per operation) is keyed by identity: the expanded ``net0`` .. ``net31`` share one
    source schema, compiled once.
    """
    memo = {} if memo is None else memo
    hit = memo.get(id(raw))
    if hit is not None and hit[0] is raw:
        result: dict[str, Any] = hit[1]
        return result
    out = _compile(raw, memo)
    memo[id(raw)] = (raw, out)
    return out


# PVE checks a scalar's keywords in this order, and the first failure is the only one reported.
SCALAR_ORDER = ("format", "pattern", "maxLength", "minLength", "maximum", "minimum", "enum")
SCALAR_PLAN = "__scalar_keywords__"  # the ones a compiled schema has, in that order


def _compile(raw: Mapping[str, Any], memo: Memo) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key in ("optional", "default_key"):
            out[key] = truthy(value)
        elif key in ("minimum", "maximum", "minLength", "maxLength"):
            bound = _bound(value)
            if bound is not None:
                out[key] = bound
        elif key == "enum":
            if value is not None:
                out[key] = [perl_str(v) for v in value]
        elif key == "pattern":
            if value:
                out[key] = compile_anchored(str(value))
        elif key == "properties":
            out[key] = Properties({k: compile_schema(v, memo) for k, v in (value or {}).items()})
        elif key == "items" and isinstance(value, Mapping):
            out[key] = compile_schema(value, memo)
        elif key == "format" and isinstance(value, Mapping):
            out[key] = compile_hash_format(value, memo=memo)
        elif key == "additionalProperties":
            out[key] = compile_schema(value, memo) if isinstance(value, Mapping) else truthy(value)
        elif key == "oneOf" and isinstance(value, list):
            out[key] = [compile_schema(v, memo) for v in value]
        elif key in ("description", "verbose_description", "typetext", "format_description", "title"):
            continue
        else:
            out[key] = value
    # decided here, once, instead of probing seven keywords for every value checked
    out[SCALAR_PLAN] = tuple(keyword for keyword in SCALAR_ORDER if keyword in out)
    return out


@dataclass(frozen=True, slots=True)
class HashFormat:
    """A compiled property-string definition: its keys, the default key, and an optional name."""

    keys: Mapping[str, Mapping[str, Any]]
    default_key: str | None
    name: str | None = None


class Properties(dict[str, dict[str, Any]]):
    """An object's compiled properties, plus the ones worth checking when absent.

    An absent property can only fail as "missing" (or through a typed ``oneOf``), so the checker
    visits the keys a request has and these, instead of all of them: VM create declares 500+.
    """

    def __init__(self, items: Mapping[str, dict[str, Any]]) -> None:
        super().__init__(items)
        self.when_absent = tuple(
            key for key, sub in self.items()
            if "oneOf" in sub or not (sub.get("optional") or sub.get("alias") or sub.get("group"))
        )


def compile_hash_format(raw: Mapping[str, Any], name: str | None = None, memo: Memo | None = None) -> HashFormat:
    memo = {} if memo is None else memo
    keys = Properties({k: compile_schema(v, memo) for k, v in raw.items()})
    default = next((k for k, v in keys.items() if v.get("default_key")), None)
    return HashFormat(keys, default, name)
