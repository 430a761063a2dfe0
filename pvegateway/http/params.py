"""Gather request parameters exactly as pve-http-server does (AnyEvent.pm ``extract_params``; docs/WIRE.md 3).

Form bodies and query strings: pairs split on ``&`` and ``;``, only the first ``=`` separates and a
second one truncates the value, ``+`` is a space, keys are not UTF-8 decoded but values are, repeated
keys become arrays, a key without ``=`` is undef. JSON bodies keep their structure; numbers become the
strings Perl would print; a body JSON::XS refuses is its croak, as PVE answers it. The query string
always wins over the body.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any

from ..errors import PVEError
from ..schema.formats._jsonxs import Bool, JsonXsError
from ..schema.formats._jsonxs import decode_json as jsonxs_decode
from ..schema.messages import URI_CONFLICT
from ..schema.perl import perl_str, truthy

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
    """JSON values as PVE's handlers see them: numbers as Perl strings, null as undef, bools kept.

    Plain loops, one stack frame a level: a body may nest 512 levels deep (JSON::XS's limit)."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return perl_str(value)
    if isinstance(value, list):
        items = []
        for item in value:
            items.append(perlify(item))
        return items
    if isinstance(value, dict):
        mapping = {}
        for key, item in value.items():
            mapping[str(key)] = perlify(item)
        return mapping
    return value


_UV_MAX = 2**64 - 1
_IV_MIN_MAGNITUDE = 2**63
_MAX_DEPTH = 512  # JSON::XS's default max_depth

# Where pve-http-server 6.0.5 (src/PVE/APIServer/AnyEvent.pm) and pve-manager 9.2 (PVE/HTTPServer.pm)
# die on a body: Perl ends a message that has no newline of its own with the location of the dying
# statement, and that text is what PVE answers.
_ANYEVENT = "/usr/share/perl5/PVE/APIServer/AnyEvent.pm"
_HTTPSERVER = "/usr/share/perl5/PVE/HTTPServer.pm"
_DECODE_LINE = 934  # extract_params: $params = decode_json($r->content)
_QUERY_LINE = 943  # extract_params: $params->{$k} = $query_params->{$k}
_DC_LINE = 978  # handle_api2_request: delete $params->{_dc} if $params
_URI_PARAM_LINE = 160  # rest_handler: for my $p (sort keys %{$params})


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


def _too_deep(value: Any) -> bool:
    """Whether containers nest deeper than JSON::XS's max_depth (Python's json goes on to its recursion limit)."""
    level = [(value, 1)]
    while level:
        item, depth = level.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        for child in children:
            if isinstance(child, dict | list):
                if depth + 1 > _MAX_DEPTH:
                    return True
                level.append((child, depth + 1))
    return False


def _from_jsonxs(value: Any) -> Any:
    """A value of the JSON::XS model as Python's json gives it (booleans as bool)."""
    if isinstance(value, Bool):
        return value.value
    if isinstance(value, list):
        return [_from_jsonxs(v) for v in value]
    if isinstance(value, dict):
        return {k: _from_jsonxs(v) for k, v in value.items()}
    return value


def decode_json_value(body: bytes) -> Any:
    """JSON::XS's ``decode_json`` of a body, any JSON value, or PVE's 500 with JSON::XS's croak.

    Python's json decides the common, valid case quickly; anything it refuses, and what it takes but
    JSON::XS does not (half surrogate pairs, nesting past 512), is decided again by the JSON::XS model,
    which gives the exact message and offset."""
    try:
        decoded = json.loads(body.decode("utf-8"), parse_int=_json_int, parse_constant=_no_constant)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        pass
    else:
        # JSON::XS refuses "\ud800" without its pair; Python keeps it, and it could never be encoded back
        if not (_SURROGATE_ESCAPE.search(body) and _lone_surrogate(decoded)) and not _too_deep(decoded):
            return decoded
    try:
        return _from_jsonxs(jsonxs_decode(body.decode("latin-1")))  # a byte string, as Perl holds it
    except JsonXsError as err:
        raise PVEError(500, f"{err} at {_ANYEVENT} line {_DECODE_LINE}.\n", plain=True) from None


def _no_hash_ref(value: Any) -> str:
    """Perl's error for ``$value->{...}`` under ``use strict`` when the value is no hash reference."""
    if isinstance(value, bool | list):  # an ARRAY, or a JSON::PP::Boolean (a blessed SCALAR)
        return "Not a HASH reference"
    text = perl_str(value)
    more = "..." if len(text) > 32 else ""
    return f'Can\'t use string ("{text[:32]}"{more}) as a HASH ref while "strict refs" in use'


def _as_params(decoded: Any, query_keys: bool) -> dict[str, Any]:
    """What PVE makes of a JSON body that is not an object, where it first uses it as a hash.

    ``null`` becomes an empty hash (Perl autovivifies it). Anything else dies: while the query string
    is merged in, if it has keys; else at the ``_dc`` removal, if Perl finds the value true; else in
    pve-manager's ``rest_handler``, whose error the formatter renders."""
    if decoded is None:
        return {}
    if query_keys:
        raise PVEError(500, f"{_no_hash_ref(decoded)} at {_ANYEVENT} line {_QUERY_LINE}.\n", plain=True)
    if truthy(decoded):
        raise PVEError(500, f"{_no_hash_ref(decoded)} at {_ANYEVENT} line {_DC_LINE}.\n", plain=True)
    raise PVEError(500, f"{_no_hash_ref(decoded)} at {_HTTPSERVER} line {_URI_PARAM_LINE}.\n")


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
    query_params = decode_urlencoded(query)
    if json_body:
        # decoded even when empty: PVE answers an empty JSON body with JSON::XS's "(end of string)"
        decoded = decode_json_value(body)
        params = decoded if isinstance(decoded, dict) else _as_params(decoded, bool(query_params))
        params = perlify(params)
    elif with_body and body:
        params = decode_urlencoded(body.decode("latin-1"))
    params.update(query_params)
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
