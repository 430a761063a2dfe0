"""Parameter decoding as pve-http-server does it (src/PVE/APIServer/AnyEvent.pm ``extract_params``, 922-946;
``decode_urlencoded``, 888-919) and the URI merge of pve-manager ``PVE/HTTPServer.pm`` ``rest_handler`` (160-168)."""

from __future__ import annotations

import time

import pytest

from pvegateway.errors import PVEError
from pvegateway.http.params import decode_urlencoded, gather, merge_path

JSON = "application/json"
# the location Perl appends to JSON::XS's croak: the decode_json call of pve-http-server 6.0.5
AT_DECODE = " at /usr/share/perl5/PVE/APIServer/AnyEvent.pm line 934.\n"


def test_pairs_split_on_ampersand_and_semicolon_and_repeats_become_arrays() -> None:
    assert decode_urlencoded("a=1;b=2&a=3") == {"a": ["1", "3"], "b": "2"}


def test_many_repeats_of_one_key_decode_in_linear_time() -> None:
    """PVE pushes each repeat onto the key's array (pve-http-server src/PVE/APIServer/AnyEvent.pm:908-914).

    174,000 repeats fit the 512 KiB body cap; copying the array on every repeat took ~25 s for them.
    """
    started = time.monotonic()
    params = decode_urlencoded("a=&" * 174_000 + "a=last;b")
    assert time.monotonic() - started < 2.0
    assert len(params["a"]) == 174_001 and params["a"][-1] == "last" and params["b"] is None


def test_a_key_without_value_resets_the_array_as_in_pve() -> None:
    """``$res->{$k} = $v`` with an undefined ``$v`` replaces whatever the key held (AnyEvent.pm:918)."""
    assert decode_urlencoded("a=1&a=2&a&a=3") == {"a": "3"}


def test_second_equals_truncates_and_plus_is_space() -> None:
    assert decode_urlencoded("net0=virtio,bridge=vmbr0&name=a+b") == {"net0": "virtio,bridge", "name": "a b"}


def test_key_without_equals_is_undef_and_empty_value_is_empty_string() -> None:
    assert decode_urlencoded("flag&empty=") == {"flag": None, "empty": ""}


def test_values_are_utf8_decoded_keys_are_percent_decoded() -> None:
    assert decode_urlencoded("%6Eame=vm-%C3%BC") == {"name": "vm-ü"}


def test_query_overrides_body_and_dc_is_dropped() -> None:
    params = gather("vmid=0&_dc=123", b"vmid=4321&cores=2", "application/x-www-form-urlencoded",
                    with_body=True, protected=False)
    assert params == {"vmid": "0", "cores": "2"}


def test_protected_methods_see_undef_as_empty_string() -> None:
    assert gather("", b"flag", "", with_body=True, protected=True) == {"flag": ""}
    assert gather("", b"flag", "", with_body=True, protected=False) == {"flag": None}


def test_json_numbers_become_perl_strings() -> None:
    body = b'{"a": 2.0, "b": 1e20, "c": 7, "d": true, "e": null, "f": [1, 2.5]}'
    assert gather("", body, JSON, with_body=True, protected=False) == {
        "a": "2", "b": "1e+20", "c": "7", "d": True, "e": None, "f": ["1", "2.5"],
    }


@pytest.mark.parametrize(("body", "message"), [
    # texts of JSON::XS 4.04 (Debian's libjson-xs-perl 4.040, as on PVE 9), run on these very bodies
    (b"", 'malformed JSON string, neither tag, array, object, number, string or atom, at character offset 0 '
          '(before "(end of string)")'),
    (b'{"a": nul}', "'null' expected, at character offset 6 (before \"nul}\")"),
    (b"(x)", 'malformed JSON string, neither array, object, number, string or atom, at character offset 0 '
             '(before "(x)")'),
    (b'{"a": "\\u12"}', 'exactly four hexadecimal digits expected, at character offset 9 (before "12\"}")'),
    (b'{"a":"x\x00y"}', 'unexpected end of string while parsing JSON string, at character offset 7 '
                          '(before "\\x{0}y\"}")'),
    (b'{"a": "\xc3\xa9\xff"}', 'malformed UTF-8 character in JSON string, at character offset 9 '
                              '(before "\\x{fffd}")'),  # 0xFF announces 13 bytes
    (b'{"a":1} \xe2\x82\xac' * 2, 'garbage after JSON object, at character offset 8 '
                                 '(before "\\x{20ac}{\"a\":1} \\x{20ac}")'),
    (b"[" * 513 + b"]" * 513, "json text or perl structure exceeds maximum nesting level (max_depth set too low?), "
                              'at character offset 513 (before "]]]]]]]]]]]]]]]]]]]]...")'),
])
def test_a_body_json_xs_refuses_is_its_croak_at_pves_decode_json(body: bytes, message: str) -> None:
    """pve-http-server ``extract_params`` (AnyEvent.pm:934) dies with JSON::XS's croak, located at that line."""
    with pytest.raises(PVEError) as err:
        gather("", body, JSON, with_body=True, protected=False)
    assert (err.value.status, err.value.plain, err.value.message) == (500, True, message + AT_DECODE)


def test_json_nested_512_levels_deep_is_taken() -> None:
    """JSON::XS's max_depth is 512: the object and 511 arrays inside it pass, one more does not (above)."""
    value = gather("", b'{"a": ' + b"[" * 511 + b"]" * 511 + b"}", JSON, with_body=True, protected=False)["a"]
    depth = 1  # the object itself
    while isinstance(value, list):
        depth += 1
        value = value[0] if value else None
    assert depth == 512


AE = "/usr/share/perl5/PVE/APIServer/AnyEvent.pm"


@pytest.mark.parametrize(("body", "query", "message"), [
    # with query keys, extract_params assigns them into the body's value (AnyEvent.pm:943)
    (b"[150]", "a=1", f"Not a HASH reference at {AE} line 943.\n"),
    (b"false", "a=1", f"Not a HASH reference at {AE} line 943.\n"),
    (b"150", "a=1", f'Can\'t use string ("150") as a HASH ref while "strict refs" in use at {AE} line 943.\n'),
    # without, ``delete $params->{_dc} if $params`` is the first use of a true value (AnyEvent.pm:978)
    (b"[150]", "", f"Not a HASH reference at {AE} line 978.\n"),
    (b"true", "", f"Not a HASH reference at {AE} line 978.\n"),
    (b'"vmid=150"', "", f'Can\'t use string ("vmid=150") as a HASH ref while "strict refs" in use at {AE} line 978.\n'),
    (b'"' + b"x" * 40 + b'"', "", 'Can\'t use string ("' + "x" * 32 + '"...) as a HASH ref while "strict refs" in use'
                                  f" at {AE} line 978.\n"),
])
def test_a_json_body_that_is_no_object_dies_where_pve_first_uses_it_as_a_hash(
        body: bytes, query: str, message: str) -> None:
    """Perl's own texts under ``use strict`` (checked with perl 5.36 and JSON::XS 4.04 on these values),
    at the statements of pve-http-server 6.0.5 that use the value; outside the formatter: plain text."""
    with pytest.raises(PVEError) as err:
        gather(query, body, JSON, with_body=True, protected=False)
    assert (err.value.status, err.value.plain, err.value.message) == (500, True, message)


STRICT_REFS = 'Can\'t use string ("{}") as a HASH ref while "strict refs" in use'


@pytest.mark.parametrize(("body", "text"), [
    (b"0", STRICT_REFS.format("0")), (b'""', STRICT_REFS.format("")), (b"false", "Not a HASH reference"),
])
def test_a_false_json_body_dies_in_rest_handler_inside_the_formatter(body: bytes, text: str) -> None:
    """A false value passes the ``_dc`` removal and dies at pve-manager PVE/HTTPServer.pm:160
    (``sort keys %{$params}``), inside ``rest_handler``'s eval: a formatted 500, not plain text."""
    with pytest.raises(PVEError) as err:
        gather("", body, JSON, with_body=True, protected=False)
    assert (err.value.status, err.value.plain) == (500, False)
    assert err.value.message == f"{text} at /usr/share/perl5/PVE/HTTPServer.pm line 160.\n"


def test_a_null_json_body_is_an_empty_hash() -> None:
    """Perl autovivifies the undef that decode_json gives for ``null``: no parameters, then the query's."""
    assert gather("", b"null", JSON, with_body=True, protected=False) == {}
    assert gather("a=1", b"null", JSON, with_body=True, protected=False) == {"a": "1"}


def test_uri_conflict_is_a_string_comparison() -> None:
    params = {"vmid": "120"}
    merge_path(params, {"vmid": "120"})
    for given in ("+120", "0120", None, True, ["120"]):
        with pytest.raises(PVEError) as err:
            merge_path({"vmid": given}, {"vmid": "120"})
        assert err.value.errors == {"vmid": "duplicate parameter (already defined in URI) with conflicting values!"}
