"""Gather request parameters exactly as pve-http-server does (docs/pve-wire.md section 2).

Form bodies and query strings: pairs split on ``&`` and ``;``, only the first ``=`` separates and a
second one truncates the value, ``+`` is a space, keys are not UTF-8 decoded but values are, repeated
keys become arrays, a key without ``=`` is undef. JSON bodies keep their structure; numbers become the
strings Perl would print. The query string always wins over the body.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any

from ..errors import PVEError
from ..schema.messages import URI_CONFLICT
from ..schema.perl import perl_str

_PAIR_SEPARATORS = re.compile(r"[&;]")
_PERCENT = re.compile(rb"%([0-9a-fA-F]{2})")
_MEDIA_END = re.compile(r"[;,]")


def _unescape(raw: str) -> bytes:
    data = raw.replace("+", " ").encode("latin-1", "surrogateescape")
    if b"%" not in data:
        return data  # nothing to substitute
    return _PERCENT.sub(lambda m: bytes([int(m.group(1), 16)]), data)


def _plain(raw: str) -> bool:
    return raw.isascii() and "%" not in raw and "+" not in raw


def decode_urlencoded(data: str) -> dict[str, Any]:
    """PVE's ``decode_urlencoded``: ``{key: str | None | list}``."""
    result: dict[str, Any] = {}
    if not data:
        return result
    pairs = _PAIR_SEPARATORS.split(data)
    while pairs and pairs[-1] == "":  # Perl's split drops trailing empty fields
        pairs.pop()
    for pair in pairs:
        key_raw, sep, rest = pair.partition("=")
        # plain ASCII without '+' or '%' decodes to itself (the common case, without the byte round trip)
        key = key_raw if _plain(key_raw) else _unescape(key_raw).decode("latin-1")
        value: str | None = None
        if sep:
            raw_value = rest.split("=", 1)[0]
            value = raw_value if _plain(raw_value) else _unescape(raw_value).decode("utf-8", "replace")
        old = result.get(key) if value is not None else None
        if old is None:
            result[key] = value
        elif isinstance(old, list):
            # in place, as PVE's push: copying the list on every repeat made n repeats cost n**2
            old.append(value)
        else:
            result[key] = [old, value]
    return result


def perlify(value: Any) -> Any:
    """JSON values as PVE's handlers see them: numbers as Perl strings, null as undef, bools kept."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return perl_str(value)
    if isinstance(value, list):
        return [perlify(v) for v in value]
    if isinstance(value, dict):
        return {str(k): perlify(v) for k, v in value.items()}
    return value


_UV_MAX = 2**64 - 1
_IV_MIN_MAGNITUDE = 2**63
_MAX_DEPTH = "json text or perl structure exceeds maximum nesting level (max_depth set too low?)"


def _json_int(literal: str) -> int | str:
    """JSON::XS keeps an integer too wide for Perl's IV/UV as its digits: a string, never a float.

    Python's own int() also refuses literals of over 4300 digits, which must not become a crash."""
    digits = literal.lstrip("-")
    if len(digits) > 20 or int(digits) > (_IV_MIN_MAGNITUDE if literal.startswith("-") else _UV_MAX):
        return literal
    return int(literal)


def _no_constant(name: str) -> Any:
    """NaN and Infinity are not JSON: JSON::XS refuses them as it refuses any other bare word."""
    raise ValueError(f"unexpected bare word {name!r}")


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89abcdefABCDEF]")


def _lone_surrogate(value: Any) -> bool:
    """Whether a decoded value holds half a surrogate pair (json pairs whole ones up itself)."""
    if isinstance(value, str):
        return any("\ud800" <= ch <= "\udfff" for ch in value)
    if isinstance(value, list):
        return any(_lone_surrogate(v) for v in value)
    if isinstance(value, dict):
        return any(_lone_surrogate(k) or _lone_surrogate(v) for k, v in value.items())
    return False


def decode_json_body(body: bytes) -> dict[str, Any]:
    try:
        decoded = json.loads(body, parse_int=_json_int, parse_constant=_no_constant)
        if not isinstance(decoded, dict):
            raise PVEError(500, "Not a HASH reference", plain=True)
        # JSON::XS refuses "\ud800" without its pair; Python keeps it, and it could never be encoded back
        if _SURROGATE_ESCAPE.search(body) and _lone_surrogate(decoded):
            raise PVEError(500, "malformed JSON string: missing low or high surrogate character in surrogate pair",
                           plain=True)
        return {str(k): perlify(v) for k, v in decoded.items()}
    except (ValueError, UnicodeDecodeError) as err:
        text = f"malformed JSON string: {err}"
        raise PVEError(500, text, plain=True) from None
    except RecursionError:  # JSON::XS stops at a depth of 512 with this message
        raise PVEError(500, _MAX_DEPTH, plain=True) from None


@lru_cache(maxsize=64)  # a request asks up to four times; clients send a handful of distinct values
def media_type(content_type: str) -> str:
    """PVE compares the part before the first ``;`` or ``,``, case-sensitively."""
    return _MEDIA_END.split(content_type, maxsplit=1)[0].strip()


def gather(
    query: str, body: bytes, content_type: str, *, with_body: bool, protected: bool
) -> dict[str, Any]:
    """Body then query string (the query overrides); ``_dc`` dropped."""
    params: dict[str, Any] = {}
    json_body = with_body and media_type(content_type) == "application/json"
    if with_body and body:
        params = decode_json_body(body) if json_body else decode_urlencoded(body.decode("latin-1"))
    params.update(decode_urlencoded(query))
    params.pop("_dc", None)
    if protected and not json_body:
        # pveproxy re-encodes the form for pvedaemon: a key without '=' arrives as an empty string
        # (a JSON body's null stays undef)
        for key, value in params.items():
            if value is None:
                params[key] = ""
    return params


def merge_path(params: dict[str, Any], path_params: dict[str, str]) -> None:
    """Path captures win; a different string in the body or query is PVE's URI conflict error."""
    conflicts: dict[str, str] = {}
    for key, value in path_params.items():
        # a string comparison: undef, JSON null, arrays and booleans all differ from the URI's text
        if key in params and not (isinstance(params[key], str) and params[key] == value):
            conflicts[key] = URI_CONFLICT
        params[key] = value
    if conflicts:
        raise PVEError.params(conflicts)
