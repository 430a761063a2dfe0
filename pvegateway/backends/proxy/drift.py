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
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from ...apidoc.operation import Operation
from ...schema.dialect import EMPTY, Node, read
from ...schema.perl import is_integer, is_number, perl_str, truthy
from ..base import Streamed

log = logging.getLogger("pvegateway.proxy.drift")

HEADER = b"x-pvegateway-response-drift"
LIMIT = 4 * 1024 * 1024  # answers larger than this (on the wire or inflated) are passed on unchecked
MAX_DESCRIBED = 10  # differences described per answer; all are counted
_HEADER_MAX = 200
_OFFLOAD = 256 * 1024  # JSON this large is parsed and checked off the event loop


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


def check(node: Node, value: Any, path: str = "data") -> Drift:
    """How ``value`` (an answer's ``data``) differs from the schema ``node``."""
    drift = Drift()
    _check(node, value, path, drift, None)
    return drift


def _types(node: Node) -> tuple[str, ...] | None:
    """The types a value is held to; a node that admits null is not checked (nor are 'any', unknown names)."""
    types = node.types
    return None if types is None or "null" in types else types


def _check(node: Node, value: Any, path: str, drift: Drift, instance_type: Any) -> None:
    if node.one_of:
        _check_one_of(node, node.one_of, value, path, drift, instance_type)
        return
    types = _types(node)
    if value is None:
        if types is not None and node.absent_ok is None:
            drift.add(f"{path}: expected {'|'.join(types)}, got null")
        return
    if types is not None and not any(_type_ok(t, value) for t in types):
        drift.add(f"{path}: expected {'|'.join(types)}, got {_kind(value)}")
        return
    if isinstance(value, list):
        if node.items is not None:
            for index, item in enumerate(value):
                _check(node.items, item, f"{path}[{index}]", drift, None)
    elif isinstance(value, dict):
        _check_object(node, value, path, drift)
    elif node.enum is not None and not isinstance(value, bool) and perl_str(value) not in node.enum:
        allowed = ", ".join(sorted(set(node.enum)))
        drift.add(f"{path}: {_kind(value)} that is not one of {allowed}")


def _check_object(node: Node, value: dict[str, Any], path: str, drift: Drift) -> None:
    properties = node.properties or EMPTY
    required = properties.required
    for key in required:
        if value.get(key) is None:
            drift.add(f"{path}: missing required property '{key}'")
    additional = node.additional
    for key, item in value.items():
        sub = properties.get(key)
        if sub is None:
            if isinstance(additional, Node):  # a key the schema does not name is the node's data
                _check(additional, item, f"{path}.*", drift, None)
            continue
        if item is None and key in required:
            continue  # reported as missing above
        instance_type = value.get(sub.type_property) if sub.type_property else None
        if sub.type_property and not sub.one_of and not _applies(sub, instance_type):
            continue  # a property of another instance type: not this object's to have checked
        _check(sub, item, f"{path}.{key}", drift, instance_type)


def _applies(node: Node, instance_type: Any) -> bool:
    return node.instance_types is None or (instance_type is not None and perl_str(instance_type) in
                                           node.instance_types)


def _check_one_of(node: Node, one_of: tuple[Node, ...], value: Any, path: str, drift: Drift,
                  instance_type: Any) -> None:
    """Fine when one applicable alternative fits; else what the first one found. An absent value,
    or one no alternative applies to, is not judged (PVE treats those as optional)."""
    if value is None:
        return
    typed = node.type_property is not None
    alternatives = [a for a in one_of if not typed or _applies(a, instance_type)]
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


_read: dict[int, tuple[Operation, Node | None]] = {}


def returns_node(operation: Operation) -> Node | None:
    """The operation's ``returns`` as read (on first use, then kept), or None when there is nothing
    to check: no schema, or a type of ``null`` / ``any``."""
    hit = _read.get(id(operation))
    if hit is not None and hit[0] is operation:
        return hit[1]
    returns = operation.returns
    node = read(returns) if returns and returns.get("type") else None
    if node is not None and _types(node) is None and not node.one_of:
        node = None
    _read[id(operation)] = (operation, node)
    return node


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


def _drift_of(body: bytes, encoding: bytes, node: Node, limit: int) -> Drift | None:
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
    return check(node, decoded["data"])


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
    node = returns_node(operation)
    if node is None or not _worth_reading(answer, limit):
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
        drift = await asyncio.to_thread(_drift_of, body, encoding, node, limit)
    else:
        drift = _drift_of(body, encoding, node, limit)
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
