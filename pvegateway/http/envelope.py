"""PVE's formatters (pve-http-server Formatter/Standard.pm): the json and extjs envelopes and friends.

A response is rendered once, here: success and error alike. The HTTP reason phrase is the message's
first line, as pve-http-server sends it.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from ..errors import PVEError

JSON_TYPE = "application/json;charset=UTF-8"
FORMATS = frozenset(("json", "extjs", "htmljs", "spiceconfig"))


@dataclass(slots=True)
class Rendered:
    status: int
    body: bytes
    content_type: str | None
    reason: str
    headers: dict[str, str] = field(default_factory=dict)


_PHRASES = {status.value: status.phrase for status in HTTPStatus}  # asked on every answer: looked up once


def standard_phrase(status: int) -> str:
    return _PHRASES.get(status, "Unknown")


def reason_for(status: int, message: str) -> str:
    first = message.split("\n", 1)[0] if message else ""
    return first if first and "\r" not in first else standard_phrase(status)


def _unsendable(message: str) -> bool:
    """pve-http-server ``response``: a first line that still holds a CR cannot be a reason phrase;
    the answer becomes a bodiless ``400 Bad Request`` rather than a status line open to injection."""
    return "\r" in message.split("\n", 1)[0]


def _bad_request() -> Rendered:
    return Rendered(400, b"", None, standard_phrase(400))


# what json.dumps(data, separators=(",", ":"), ensure_ascii=False) builds on every call, built once
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def _dumps(data: Any) -> bytes:
    return _ENCODER.encode(data).encode()


class Fragment(dict[str, Any]):
    """An object of an answer's list that carries its own JSON text (``encoded``), made once with it:
    a list made of them is written by joining those texts, not encoded again. The text is the object's
    as ``_dumps`` writes it, so the answer is byte for byte what encoding the list would give. A
    Fragment must not change after it is made (a backend keeps it as long as the object is unchanged,
    and hands out copies, plain dicts, to callers that add to it)."""

    __slots__ = ("encoded",)

    def __init__(self, data: dict[str, Any]) -> None:
        super().__init__(data)
        self.encoded = _dumps(data)


def _fragments(data: Any) -> bytes | None:
    """The JSON text of ``data`` when it is a Fragment or a list holding some, None otherwise. The objects
    between Fragments are encoded a run at a time (a run's array without its brackets is its objects'
    texts joined by commas, as in the whole array)."""
    if type(data) is not list:
        return data.encoded if type(data) is Fragment else None
    parts: list[bytes] = []
    run: list[Any] = []
    for item in data:
        if type(item) is Fragment:
            if run:
                parts.append(_dumps(run)[1:-1])
                run = []
            parts.append(item.encoded)
        else:
            run.append(item)
    if len(run) == len(data):
        return None  # no Fragment at all: encoded whole, as any answer
    if run:
        parts.append(_dumps(run)[1:-1])
    return b"[" + b",".join(parts) + b"]"


def success(fmt: str, data: Any, total: Any = None, changes: Any = None) -> Rendered:
    if fmt in ("json", "extjs") and not total and not changes:
        joined = _fragments(data)
        if joined is not None:
            return Rendered(200, b'{"data":' + joined + (b',"success":1}' if fmt == "extjs" else b"}"), JSON_TYPE,
                            "OK")
    body: dict[str, Any] = {"data": data}
    if fmt in ("extjs", "htmljs"):
        body["success"] = 1
    if total:
        body["total"] = total
    if changes:
        body["changes"] = changes
    if fmt == "spiceconfig":
        return _spiceconfig(data)
    return _wrap(fmt, 200, "OK", body)


def failure(fmt: str, error: PVEError) -> Rendered:
    if _unsendable(error.message) and (error.plain or fmt not in ("extjs", "htmljs")):
        return _bad_request()  # the extjs formats answer 200 OK: their message stays in the body
    if error.plain:
        text = b"" if error.bare else error.message.encode()
        rendered = Rendered(error.status, text, None, reason_for(error.status, error.message))
        rendered.headers.update(error.headers)
        return rendered
    message = error.message or standard_phrase(error.status)
    body: dict[str, Any] = {"data": None, "message": message}
    if error.errors:
        body["errors"] = error.errors
    reason = reason_for(error.status, message)
    if fmt in ("extjs", "htmljs"):
        body["success"] = 0
        body["status"] = error.status
        rendered = _wrap(fmt, 200, "OK", body)
    else:
        rendered = _wrap(fmt, error.status, reason, body)
    rendered.headers.update(error.headers)
    return rendered


def _wrap(fmt: str, status: int, reason: str, body: dict[str, Any]) -> Rendered:
    if fmt == "htmljs":
        return Rendered(status, html.escape(_dumps(body).decode()).encode(), "text/html;charset=UTF-8", reason)
    return Rendered(status, _dumps(body), JSON_TYPE, reason)


def _spiceconfig(data: Any) -> Rendered:
    lines = ["[virt-viewer]"] + [f"{k}={v}" for k, v in (data or {}).items()]
    return Rendered(200, ("\n".join(lines) + "\n").encode(), "application/x-virt-viewer;charset=UTF-8", "OK")
