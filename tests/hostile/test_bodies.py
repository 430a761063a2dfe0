"""Hostile request bodies over a real socket: PVE's answer, or a clear 4xx, and never a changed cluster.

Each body also carries a valid VM creation, so a gateway that misread it would create VM 150.
"""

from __future__ import annotations

import pytest

from pvegateway.testing import PVEMock

from .wire import Login, exchange, request

pytestmark = pytest.mark.usefixtures("unchanged")

CREATE = "/api2/json/nodes/pve1/qemu"
UPLOAD = "/api2/json/nodes/pve1/storage/local/upload"
KiB = 1024


def post(pve: PVEMock, root: Login, body: bytes, content_type: str | None, target: str = CREATE,
         **options: object) -> tuple[int, bytes, bytes]:
    reply = exchange(pve.port, request("POST", target, headers=root.headers, body=body,
                                       content_type=content_type, **options))  # type: ignore[arg-type]
    assert reply.closed and reply.header(b"connection") == b"close"
    return reply.status, reply.reason, reply.body


# pve-http-server 6.0.5 extract_params (src/PVE/APIServer/AnyEvent.pm:934) decodes a JSON body with
# JSON::XS's decode_json; its croak, which Perl ends with that location, is the error() answer: a 500
# whose reason is the message's first line and whose plain-text body is the whole message (error(),
# AnyEvent.pm:402-413; response(), 305-307). The texts are JSON::XS 4.04's (Debian's libjson-xs-perl
# 4.040, as on PVE 9), produced by it on these very bodies.
AT_DECODE = b" at /usr/share/perl5/PVE/APIServer/AnyEvent.pm line 934."
NEITHER = b"malformed JSON string, neither tag, array, object, number, string or atom"


@pytest.mark.parametrize(("body", "croak"), [
    (b"{bad", b"'\"' expected, at character offset 1 (before \"bad\")"),
    (b'{"vmid": 150,}', b"'\"' expected, at character offset 13 (before \"}\")"),
    (b"{'vmid': 150}", b"'\"' expected, at character offset 1 (before \"'vmid': 150}\")"),
    (b'{"vmid": 150', b', or } expected while parsing object/hash, at character offset 12 (before "(end of string)")'),
    (b'{"vmid": 150}}', b'garbage after JSON object, at character offset 13 (before "}")'),
    (b"\x00", NEITHER + b', at character offset 0 (before "\\x{0}")'),
    (b'{"vmid": NaN}', NEITHER + b', at character offset 9 (before "NaN}")'),
    (b'{"vmid": Infinity}', NEITHER + b', at character offset 9 (before "Infinity}")'),
    (b'{"vmid": nope}', b"'null' expected, at character offset 9 (before \"nope}\")"),
    (b"", NEITHER + b', at character offset 0 (before "(end of string)")'),  # an empty JSON body too
])
def test_malformed_json_is_pves_500_with_json_xs_croak(pve: PVEMock, root: Login, body: bytes, croak: bytes) -> None:
    assert post(pve, root, body, "application/json") == (500, croak + AT_DECODE, croak + AT_DECODE + b"\n")


def test_a_json_body_that_is_no_object_dies_where_pve_uses_it_as_a_hash(pve: PVEMock, root: Login) -> None:
    """``delete $params->{_dc} if $params`` (AnyEvent.pm:978) is the first use of a true non-hash value:
    Perl's own text, in error()'s plain framing (the other cases: tests/http/test_params.py)."""
    text = b"Not a HASH reference at /usr/share/perl5/PVE/APIServer/AnyEvent.pm line 978."
    assert post(pve, root, b"[150]", "application/json") == (500, text, text + b"\n")


def test_json_nested_beyond_any_depth_is_refused_not_a_crash(pve: PVEMock, root: Login) -> None:
    deep = b'{"vmid": 150, "name": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    croak = (b"json text or perl structure exceeds maximum nesting level (max_depth set too low?), "
             b'at character offset 534 (before "[[[[[[[[[[[[[[[[[[[[...")')
    assert post(pve, root, deep, "application/json") == (500, croak + AT_DECODE, croak + AT_DECODE + b"\n")


@pytest.mark.parametrize("digits", [25, 5000, 100_000])
def test_json_integers_too_wide_for_perl_stay_digits(pve: PVEMock, root: Login, digits: int) -> None:
    """JSON::XS keeps them as strings; Python's int() refuses over 4300 digits, which once made a 500."""
    status, _, body = post(pve, root, b'{"vmid": 1' + b"0" * digits + b"}", "application/json")
    assert status == 400
    assert b"value does not look like a valid VM ID" in body


@pytest.mark.parametrize(("escape", "croak"), [
    (b"\\ud800", b'missing low surrogate character in surrogate pair, at character offset 16 (before "\"}")'),
    (b"\\udc00", b'missing high surrogate character in surrogate pair, at character offset 16 (before "\"}")'),
    (b"\\ud800x", b'missing low surrogate character in surrogate pair, at character offset 16 (before "x\"}")'),
    (b"\\ude00\\ud83d", b"missing high surrogate character in surrogate pair, at character offset 16 "
                        b'(before "\\\\ud83d\"}")'),
])
def test_half_a_surrogate_pair_is_malformed_json_not_a_crash(pve: PVEMock, root: Login, escape: bytes,
                                                             croak: bytes) -> None:
    """Python's json keeps a lone surrogate, which then cannot be encoded into any answer; JSON::XS refuses."""
    reply = post(pve, root, b'{"vmid": "' + escape + b'"}', "application/json")
    assert reply == (500, croak + AT_DECODE, croak + AT_DECODE + b"\n")


def test_a_whole_surrogate_pair_is_a_character(pve: PVEMock, root: Login) -> None:
    status, _, body = post(pve, root, b'{"vmid": 150, "name": "\\ud83d\\ude00"}', "application/json")
    assert status == 400 and b"name" in body  # an emoji is no DNS name: validation speaks, not the JSON parser


def test_invalid_utf8_in_a_json_body_is_malformed_json(pve: PVEMock, root: Login) -> None:
    """The rest of the body is shown as Perl reads it, as UTF-8: 0xFF announces 13 bytes, one U+FFFD."""
    croak = b'malformed UTF-8 character in JSON string, at character offset 26 (before "\\x{fffd}")'
    reply = post(pve, root, b'{"vmid": 150, "name": "web\xff\xfe"}', "application/json")
    assert reply == (500, croak + AT_DECODE, croak + AT_DECODE + b"\n")


@pytest.mark.parametrize("body", [b"vmid=150&name=web%ff%fe", b"vmid=150&name=web\xff\xfe", b"vmid=150&name=%c0%af"])
def test_invalid_utf8_in_a_form_value_fails_validation(pve: PVEMock, root: Login, body: bytes) -> None:
    status, reason, text = post(pve, root, body, "application/x-www-form-urlencoded")
    assert (status, reason) == (400, b"Parameter verification failed.")
    assert b'"name":"invalid format - value does not look like a valid DNS name' in text


@pytest.mark.parametrize("content_type", [
    "text/plain", "application/xml", "Application/JSON", "application/octet-stream", "multipart/mixed",
    "multipart/form-data", "multipart/form-data; boundary=x", "",
])
def test_body_types_pve_does_not_take_are_506(pve: PVEMock, root: Login, content_type: str) -> None:
    status, reason, text = post(pve, root, b'{"vmid": 150}', content_type)
    assert status == 506
    assert reason == text == f"upload 'Content-Type '{content_type}' not implemented".encode()


@pytest.mark.parametrize("content_type", ["multipart/form-data", "multipart/form-data; charset=utf-8",
                                          "multipart/form-data; boundary="])
def test_an_upload_without_a_boundary_is_506(pve: PVEMock, root: Login, content_type: str) -> None:
    body = b'--x\r\nContent-Disposition: form-data; name="content"\r\n\r\niso\r\n--x--\r\n'
    status, _, text = post(pve, root, body, content_type, target=UPLOAD)
    assert status == 506 and text == f"upload 'Content-Type '{content_type}' not implemented".encode()


@pytest.mark.parametrize(("content_type", "body"), [
    (None, b"vmid=150&memory=abc"),  # no type: a form, as in PVE
    ("application/x-www-form-urlencoded; charset=latin-1", b"vmid=150&memory=abc"),
    ("application/json, text/plain", b'{"vmid": 150, "memory": "abc"}'),  # PVE splits on ';' and ','
])
def test_accepted_body_types_are_parsed(pve: PVEMock, root: Login, content_type: str | None, body: bytes) -> None:
    status, _, text = post(pve, root, body, content_type)
    assert status == 400 and b'"memory":' in text  # parsed: the bad memory is what fails


def test_a_declared_length_over_512_kib_is_refused_before_the_body(pve: PVEMock, root: Login) -> None:
    """Nothing follows the head: the answer comes at once, the client need not send 600 KiB."""
    reply = exchange(pve.port, request("POST", CREATE, headers=root.headers, length=600 * KiB,
                                       content_type="application/x-www-form-urlencoded"), wait_close=False)
    assert (reply.status, reply.reason, reply.body) == (501, b"for data too large", b"for data too large")


@pytest.mark.parametrize("size", [512 * KiB + 1, 600 * KiB, 4096 * KiB])
def test_a_body_over_512_kib_gets_its_answer_not_a_reset(pve: PVEMock, root: Login, size: int) -> None:
    """The refused body is read and dropped: closing on unread bytes resets the connection, and the
    reset destroyed the 501 before the client read it (fixed in http/api.py)."""
    body = b"vmid=150&description=" + b"x" * (size - 21)
    assert post(pve, root, body, "application/x-www-form-urlencoded") == (501, b"for data too large",
                                                                           b"for data too large")


def test_a_body_of_exactly_512_kib_is_read(pve: PVEMock, root: Login) -> None:
    body = b"vmid=150&memory=abc&description=" + b"x" * (512 * KiB - 32)
    status, _, text = post(pve, root, body, "application/x-www-form-urlencoded")
    assert status == 400 and b'"memory":' in text


@pytest.mark.parametrize("content_type", ["application/json", "application/x-www-form-urlencoded"])
def test_chunked_bodies_are_501_like_pve(pve: PVEMock, root: Login, content_type: str) -> None:
    raw = request("POST", CREATE, headers={**root.headers, "Transfer-Encoding": "chunked"},
                  content_type=content_type, body=None)
    reply = exchange(pve.port, raw + b"8\r\nvmid=150\r\n0\r\n\r\n")
    assert (reply.status, reply.reason) == (501, b"chunked transfer encoding not supported")


@pytest.mark.parametrize("encoding", ["gzip", "chunked, gzip", "identity"])
def test_other_transfer_encodings_are_refused(pve: PVEMock, root: Login, encoding: str) -> None:
    raw = request("POST", CREATE, headers={**root.headers, "Transfer-Encoding": encoding},
                  content_type="application/x-www-form-urlencoded", body=None)
    reply = exchange(pve.port, raw + b"8\r\nvmid=150\r\n0\r\n\r\n")
    assert reply.status in (400, 501)


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_a_body_on_get_or_delete_is_unexpected_content(pve: PVEMock, root: Login, method: str) -> None:
    reply = exchange(pve.port, request(method, "/api2/json/nodes/pve1/qemu/100", headers=root.headers,
                                       body=b"x" * 100_000, content_type="application/x-www-form-urlencoded"))
    assert (reply.status, reply.reason) == (501, f"Unexpected content for method '{method}'".encode())
