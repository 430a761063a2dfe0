"""``--check-responses``: does a node's answer still match what the schema says it returns?

Like Prism's validation proxy: each 200 JSON answer's ``data`` is compared with the operation's
``returns`` schema and any drift is *reported* (an ``x-pvegateway-response-drift`` header and one log
line), never corrected: the client gets the node's status and body bytes as they were sent.

PVE itself never checks results (pveproxy calls ``handle()`` without result verification), so real
answers drift from their own schemas in small ways: numbers sent as strings, booleans as 0/1, fields
missing on some items. The check therefore applies PVE's *type* rules (``check_type`` on Perl scalars:
``"5"`` is an integer, ``1`` is a boolean) and reports only what a client would trip over: a value of the
wrong type, a missing non-optional property, a value outside an ``enum``. Formats, patterns, bounds and
unknown properties are not reported; ``null`` and ``any`` returns are not checked.

A report says where (the path of schema-named properties and array positions) and what kind of
mismatch (``expected integer, got a string``), never a value the node sent: answers carry passwords,
keys and tokens, and a header or log line is no place for them. Keys of a map the schema does not name
(``additionalProperties``) are data too, so they are shown as ``*``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import zlib
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ...apidoc.operation import Operation
from ...schema.perl import is_integer, is_number, perl_str, truthy
from ..base import Streamed

log = logging.getLogger("pvegateway.proxy.drift")

HEADER = b"x-pvegateway-response-drift"
LIMIT = 4 * 1024 * 1024  # answers larger than this (on the wire or inflated) are passed on unchecked
MAX_DESCRIBED = 10  # differences described per answer; all are counted
_HEADER_MAX = 200
_OFFLOAD = 256 * 1024  # JSON this large is parsed and checked off the event loop
_CHECKED_TYPES = frozenset({"string", "integer", "number", "boolean", "array", "object"})


# --- the returns schema, compiled ---------------------------------------------------------------------

@dataclass(slots=True)
class Shape:
    """What the check reads of one (sub)schema: the rest (formats, bounds, descriptions) is dropped."""

    types: tuple[str, ...] | None = None  # None: any value passes the type check
    optional: bool = False
    enum: frozenset[str] | None = None
    properties: dict[str, Shape] | None = None
    additional: Shape | None = None
    items: Shape | None = None
    one_of: tuple[Shape, ...] = ()
    type_property: str | None = None
    instance_types: frozenset[str] | None = None
    required: tuple[str, ...] = ()  # properties that must be present (and not null)


def compile_returns(raw: Mapping[str, Any], memo: dict[int, tuple[Mapping[str, Any], Shape]] | None = None) -> Shape:
    """A ``returns`` schema (PVE dialect) as the check's :class:`Shape`; shared subschemas once."""
    memo = {} if memo is None else memo
    hit = memo.get(id(raw))
    if hit is not None and hit[0] is raw:
        return hit[1]
    shape = Shape()
    memo[id(raw)] = (raw, shape)
    raw_type = raw.get("type")
    names = tuple(raw_type) if isinstance(raw_type, list) else (raw_type,) if isinstance(raw_type, str) else ()
    # one unchecked alternative ('null', 'any', SDN's 'ip'...) lets every value through, as in PVE
    if names and all(n in _CHECKED_TYPES for n in names):
        shape.types = names
    shape.optional = truthy(raw.get("optional")) or truthy(raw.get("alias")) or truthy(raw.get("group"))
    if isinstance(raw.get("enum"), list):
        shape.enum = frozenset(perl_str(v) for v in raw["enum"])
    if isinstance(raw.get("properties"), Mapping):
        shape.properties = {k: compile_returns(v, memo) for k, v in raw["properties"].items()
                            if isinstance(v, Mapping)}
        shape.required = tuple(k for k, s in shape.properties.items()
                               if not s.optional and not s.one_of and s.type_property is None)
    if isinstance(raw.get("additionalProperties"), Mapping):
        shape.additional = compile_returns(raw["additionalProperties"], memo)
    if isinstance(raw.get("items"), Mapping):
        shape.items = compile_returns(raw["items"], memo)
    if isinstance(raw.get("oneOf"), list):
        shape.one_of = tuple(compile_returns(v, memo) for v in raw["oneOf"] if isinstance(v, Mapping))
    if isinstance(raw.get("type-property"), str):
        shape.type_property = raw["type-property"]
    if isinstance(raw.get("instance-types"), list):
        shape.instance_types = frozenset(perl_str(v) for v in raw["instance-types"])
    return shape


# --- the check ----------------------------------------------------------------------------------------

def _type_ok(name: str, value: Any) -> bool:
    """PVE's ``check_type`` for a decoded JSON value (a Perl scalar unless list, dict or boolean)."""
    if name == "array":
        return isinstance(value, list)
    if name == "object":
        return isinstance(value, dict)
    if isinstance(value, list | dict):
        return False
    if isinstance(value, bool):
        return name == "boolean"  # JSON::PP::Boolean: only a boolean may be one
    text = perl_str(value)
    if name == "integer":
        return is_integer(text)
    if name == "number":
        return is_number(text)
    if name == "boolean":
        return text in ("0", "1")
    return True  # string: any plain scalar


def clean(text: str) -> str:
    """Printable ASCII only: safe in a header and on one log line, whatever the node sent."""
    escaped = text.encode("ascii", "backslashreplace").decode("ascii")
    return "".join(c if " " <= c <= "~" else f"\\x{ord(c):02x}" for c in escaped)


def _kind(value: Any) -> str:
    """What sort of JSON value ``value`` is, never what it holds."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, str):
        return "a string"
    return "a number"


@dataclass(slots=True)
class Drift:
    """The differences found in one answer: all counted, the first few described."""

    count: int = 0
    descriptions: list[str] = field(default_factory=list)

    def add(self, text: str) -> None:
        self.count += 1
        if len(self.descriptions) < MAX_DESCRIBED:
            self.descriptions.append(clean(text))

    def __bool__(self) -> bool:
        return self.count > 0


def check(shape: Shape, value: Any, path: str = "data") -> Drift:
    """How ``value`` (an answer's ``data``) differs from ``shape``."""
    drift = Drift()
    _check(shape, value, path, drift, None)
    return drift


def _check(shape: Shape, value: Any, path: str, drift: Drift, instance_type: Any) -> None:
    if shape.one_of:
        _check_one_of(shape, value, path, drift, instance_type)
        return
    if value is None:
        if shape.types is not None and not shape.optional:
            drift.add(f"{path}: expected {'|'.join(shape.types)}, got null")
        return
    if shape.types is not None and not any(_type_ok(t, value) for t in shape.types):
        drift.add(f"{path}: expected {'|'.join(shape.types)}, got {_kind(value)}")
        return
    if isinstance(value, list):
        if shape.items is not None:
            for index, item in enumerate(value):
                _check(shape.items, item, f"{path}[{index}]", drift, None)
    elif isinstance(value, dict):
        _check_object(shape, value, path, drift)
    elif shape.enum is not None and not isinstance(value, bool) and perl_str(value) not in shape.enum:
        allowed = ", ".join(sorted(shape.enum))
        drift.add(f"{path}: {_kind(value)} that is not one of {allowed}")


def _check_object(shape: Shape, value: dict[str, Any], path: str, drift: Drift) -> None:
    properties = shape.properties or {}
    for key in shape.required:
        if value.get(key) is None:
            drift.add(f"{path}: missing required property '{key}'")
    for key, item in value.items():
        sub = properties.get(key)
        if sub is None:
            if shape.additional is not None:  # a key the schema does not name is the node's data
                _check(shape.additional, item, f"{path}.*", drift, None)
            continue
        if item is None and key in shape.required:
            continue  # reported as missing above
        instance_type = value.get(sub.type_property) if sub.type_property else None
        if sub.type_property and not sub.one_of and not _applies(sub, instance_type):
            continue  # a property of another instance type: not this object's to have checked
        _check(sub, item, f"{path}.{key}", drift, instance_type)


def _applies(shape: Shape, instance_type: Any) -> bool:
    return shape.instance_types is None or (instance_type is not None and perl_str(instance_type) in
                                            shape.instance_types)


def _check_one_of(shape: Shape, value: Any, path: str, drift: Drift, instance_type: Any) -> None:
    """Fine when one applicable alternative fits; else what the first one found. An absent value,
    or one no alternative applies to, is not judged (PVE treats those as optional)."""
    if value is None:
        return
    typed = shape.type_property is not None
    alternatives = [a for a in shape.one_of if not typed or _applies(a, instance_type)]
    first: Drift | None = None
    for alternative in alternatives:
        found = Drift()
        _check(alternative, value, path, found, None)
        if not found:
            return
        first = found if first is None else first
    if first is not None:
        drift.count += first.count - len(first.descriptions)
        for text in first.descriptions:
            drift.add(text)


_compiled: dict[int, tuple[Operation, Shape | None]] = {}


def returns_shape(operation: Operation) -> Shape | None:
    """The operation's compiled ``returns`` (on first use, then kept), or None when there is nothing
    to check: no schema, or a type of ``null`` / ``any``."""
    hit = _compiled.get(id(operation))
    if hit is not None and hit[0] is operation:
        return hit[1]
    returns = operation.returns
    shape = compile_returns(returns) if returns and returns.get("type") else None
    if shape is not None and shape.types is None and not shape.one_of:
        shape = None
    _compiled[id(operation)] = (operation, shape)
    return shape


# --- the answer ---------------------------------------------------------------------------------------

def _header(headers: Sequence[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


def _worth_reading(answer: Streamed, limit: int) -> bool:
    if answer.status != 200:
        return False
    ctype = (_header(answer.headers, b"content-type") or b"").split(b";", 1)[0].strip().lower()
    if ctype != b"application/json":
        return False
    length = (_header(answer.headers, b"content-length") or b"").strip()
    if not length.isdigit() or int(length) > limit:
        return False  # no length: streamed as it comes, unread
    encoding = (_header(answer.headers, b"content-encoding") or b"identity").strip().lower()
    return encoding in (b"identity", b"gzip", b"x-gzip", b"deflate")


def _inflate(body: bytes, encoding: bytes, limit: int) -> bytes | None:
    """The body as the node encoded it, decoded for the check only; None when it cannot be, or would
    grow beyond ``limit``."""
    if encoding in (b"", b"identity"):
        return body
    attempts = (zlib.MAX_WBITS | 16,) if encoding in (b"gzip", b"x-gzip") else (zlib.MAX_WBITS, -zlib.MAX_WBITS)
    for wbits in attempts:  # 'deflate' is zlib-wrapped by the RFC, raw from some servers
        inflater = zlib.decompressobj(wbits)
        try:
            text = inflater.decompress(body, limit + 1)
        except zlib.error:
            continue
        return text if len(text) <= limit and not inflater.unconsumed_tail else None
    return None


def _drift_of(body: bytes, encoding: bytes, shape: Shape, limit: int) -> Drift | None:
    """The answer's drift, or None when it is not a PVE JSON answer (undecodable, an extjs failure)."""
    text = _inflate(body, encoding, limit)
    if text is None:
        return None
    try:
        decoded = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(decoded, dict) or "data" not in decoded:
        return None
    if "success" in decoded and not truthy(decoded["success"]):
        return None  # extjs reports failures with a 200
    return check(shape, decoded["data"])


async def _replay(chunks: list[bytes], rest: AsyncIterator[bytes] | None,
                  error: BaseException | None) -> AsyncIterator[bytes]:
    """The body as it was read, then whatever was not (or the error that cut it short)."""
    for chunk in chunks:
        yield chunk
    if error is not None:
        raise error
    if rest is not None:
        async for chunk in rest:
            yield chunk


async def checked(answer: Streamed, operation: Operation, *, limit: int = LIMIT) -> Streamed:
    """``answer`` with its drift from ``operation.returns`` reported; status and body bytes unchanged.

    Only a 200 ``application/json`` answer with a Content-Length of at most ``limit`` is read (whole,
    to check it); anything else goes on as it came, still streamed.
    """
    headers = [(k, v) for k, v in answer.headers if k.lower() != HEADER]  # only the gateway says this
    answer = Streamed(answer.status, answer.reason, headers, answer.body, answer.close)
    shape = returns_shape(operation)
    if shape is None or not _worth_reading(answer, limit):
        return answer
    if isinstance(answer.body, bytes):  # all there already
        body, replayed = answer.body, answer
    else:
        chunks: list[bytes] = []
        size = 0
        rest: AsyncIterator[bytes] | None = None
        try:
            async for chunk in answer.body:
                chunks.append(chunk)
                size += len(chunk)
                if size > limit:  # more than the Content-Length promised: pass the rest on unchecked
                    rest = answer.body
                    break
        except Exception as err:  # the node's connection failed mid-body: the client sees the same cut
            return Streamed(answer.status, answer.reason, headers, _replay(chunks, None, err), answer.close)
        replayed = Streamed(answer.status, answer.reason, headers, _replay(chunks, rest, None), answer.close)
        if rest is not None:
            return replayed
        body = b"".join(chunks)
    encoding = (_header(headers, b"content-encoding") or b"").strip().lower()
    if len(body) > _OFFLOAD:
        drift = await asyncio.to_thread(_drift_of, body, encoding, shape, limit)
    else:
        drift = _drift_of(body, encoding, shape, limit)
    if drift:
        _report(operation, drift, replayed)
    return replayed


def _report(operation: Operation, drift: Drift, answer: Streamed) -> None:
    """One header and one log line; neither carries the query string nor any header's value."""
    plural = "difference" if drift.count == 1 else "differences"
    summary = f"{drift.count} {plural}: {drift.descriptions[0]}"
    if len(summary) > _HEADER_MAX:
        summary = summary[: _HEADER_MAX - 3] + "..."
    answer.headers = [*answer.headers, (HEADER, summary.encode("ascii"))]
    log.warning("response drift on %s %s: %d %s: %s", operation.method, operation.path, drift.count, plural,
                "; ".join(drift.descriptions))
