"""Parameter decoding as pve-http-server does it (docs/pve-wire.md 2.1, 2.2)."""

from __future__ import annotations

import time

import pytest

from pvegateway.errors import PVEError
from pvegateway.http.params import decode_json_body, decode_urlencoded, gather, merge_path


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
    assert decode_json_body(b'{"a": 2.0, "b": 1e20, "c": 7, "d": true, "e": null, "f": [1, 2.5]}') == {
        "a": "2", "b": "1e+20", "c": "7", "d": True, "e": None, "f": ["1", "2.5"],
    }


def test_json_top_level_must_be_an_object() -> None:
    with pytest.raises(PVEError) as err:
        decode_json_body(b"[1, 2]")
    assert err.value.status == 500 and err.value.plain


def test_uri_conflict_is_a_string_comparison() -> None:
    params = {"vmid": "120"}
    merge_path(params, {"vmid": "120"})
    for given in ("+120", "0120", None, True, ["120"]):
        with pytest.raises(PVEError) as err:
            merge_path({"vmid": given}, {"vmid": "120"})
        assert err.value.errors == {"vmid": "duplicate parameter (already defined in URI) with conflicting values!"}
