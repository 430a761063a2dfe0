"""Hostile parameter values: duplicates across path, query and body; path traversal; enormous and
odd numbers; NUL bytes. Each gets PVE's answer, and the cluster never changes.
"""

from __future__ import annotations

import httpx
import pytest

from pvegateway.testing import PVEMock, running_mock

from .wire import Login, exchange, login, request

pytestmark = pytest.mark.usefixtures("unchanged")

CONFLICT = "duplicate parameter (already defined in URI) with conflicting values!"
FORM = "application/x-www-form-urlencoded"


def call(pve: PVEMock, root: Login, method: str, target: str, body: bytes | None = None,
         content_type: str = FORM) -> tuple[int, dict[str, str]]:
    reply = exchange(pve.port, request(method, target, headers=root.headers, body=body,
                                       content_type=content_type if body is not None else None))
    errors = reply.json().get("errors") or {} if reply.body.startswith(b"{") else {}
    return reply.status, errors


@pytest.mark.parametrize(("method", "target", "body"), [
    ("GET", "/api2/json/nodes/pve1/qemu/100/config?vmid=101", None),
    ("GET", "/api2/json/nodes/pve1/qemu/100/config?vmid=100&vmid=100", None),  # an array is no string
    ("GET", "/api2/json/nodes/pve1/qemu/100/config?vmid=0100", None),  # compared as strings
    ("GET", "/api2/json/nodes/pve1/qemu/100/config?vmid=100%00", None),
    ("GET", "/api2/json/nodes/pve1/qemu/100/config?vmid", None),  # no '=': undef differs from "100"
    ("PUT", "/api2/json/nodes/pve1/qemu/100/config", b"vmid=101&memory=4096"),
    ("PUT", "/api2/json/nodes/pve1/qemu/100/config?node=pve2", b"memory=4096"),
])
def test_a_path_parameter_given_again_differently_is_pves_conflict(
        pve: PVEMock, root: Login, method: str, target: str, body: bytes | None) -> None:
    status, errors = call(pve, root, method, target, body)
    assert status == 400
    assert CONFLICT in errors.values()


def test_a_json_body_conflicts_like_a_form(pve: PVEMock, root: Login) -> None:
    status, errors = call(pve, root, "PUT", "/api2/json/nodes/pve1/qemu/100/config",
                          b'{"vmid": 101, "memory": 4096}', "application/json")
    assert (status, errors) == (400, {"vmid": CONFLICT})


@pytest.mark.parametrize("vmid", ["100", "100.0"])
def test_the_same_value_again_is_allowed(pve: PVEMock, root: Login, vmid: str) -> None:
    """PVE compares the strings (JSON 100.0 prints as "100" in Perl, so it equals the path's)."""
    reply = exchange(pve.port, request("GET", f"/api2/json/nodes/pve1/qemu/100/status/current?vmid={vmid}",
                                       headers=root.headers))
    assert reply.status == (200 if vmid == "100" else 400)


def test_the_query_string_wins_over_the_body(pve: PVEMock, root: Login) -> None:
    status, errors = call(pve, root, "POST", "/api2/json/nodes/pve1/qemu?memory=abc", b"vmid=150&memory=4096")
    assert status == 400 and set(errors) == {"memory"}


@pytest.mark.parametrize("query", ["full=1&full=0", "full=1;full=1"])
def test_a_repeated_scalar_is_an_array_and_fails(pve: PVEMock, root: Login, query: str) -> None:
    assert call(pve, root, "GET", f"/api2/json/nodes/pve1/qemu?{query}") == (
        400, {"full": "type check ('boolean') failed - got ARRAY"})


@pytest.mark.parametrize("volume", [
    "local:../../etc/passwd", "local:iso/../../../etc/shadow", "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "local:%2e%2e%2f%2e%2e%2fetc%2fpasswd", "local:iso/..%2f..%2f..%2fetc%2fpasswd", "local:iso/%00.iso",
    "..", "local:..", "local:iso/....//....//etc/passwd",
])
@pytest.mark.parametrize("method", ["GET", "DELETE", "PUT"])
def test_traversal_in_a_volume_finds_no_volume(pve: PVEMock, root: Login, volume: str, method: str) -> None:
    status, _ = call(pve, root, method, f"/api2/json/nodes/pve1/storage/local/content/{volume}",
                     b"notes=x" if method == "PUT" else None)
    assert status in (400, 500)


@pytest.mark.parametrize("path", [
    "/api2/json/nodes/pve1/../../access/users", "/api2/json/nodes/pve1/qemu/100/../../../../version",
    "/api2/json/nodes/%2e%2e/qemu", "/api2/json/nodes/pve1/qemu/%2e%2e%2f101/config",
])
def test_dot_segments_in_a_path_are_not_resolved(pve: PVEMock, root: Login, path: str) -> None:
    """PVE matches fragments as given: ``..`` is a fragment like any other, never a step up."""
    status, _ = call(pve, root, "GET", path)
    assert status in (400, 501)


def _upload(port: int, root: Login, filename: str) -> tuple[int, bytes]:
    body = (b'--B\r\nContent-Disposition: form-data; name="content"\r\n\r\niso\r\n'
            b'--B\r\nContent-Disposition: form-data; name="filename"; filename="' + filename.encode() + b'"\r\n'
            b"Content-Type: application/octet-stream\r\n\r\n" + b"data" * 256 + b"\r\n--B--\r\n")
    reply = exchange(port, request("POST", "/api2/json/nodes/pve1/storage/local/upload", headers=root.headers,
                                   body=body, content_type="multipart/form-data; boundary=B"))
    return reply.status, reply.body


@pytest.mark.parametrize("filename", ["../../etc/passwd", "..%2f..%2fetc%2fpasswd", "..\\..\\boot.ini", "..", ""])
def test_an_upload_named_for_traversal_without_an_iso_name_is_refused(
        pve: PVEMock, root: Login, filename: str) -> None:
    status, body = _upload(pve.port, root, filename)
    assert status == 400 and b"wrong file extension" in body


@pytest.mark.parametrize(("filename", "stored"), [
    ("../../etc/passwd.iso", "passwd.iso"), ("..\\..\\x.iso", "x.iso"), ("a/../b%2f..%2fc.iso", "b_2f.._2fc.iso"),
    ("evil\x00.iso", "evil_.iso"),
])
def test_an_upload_keeps_only_the_file_name(filename: str, stored: str) -> None:
    """PVE's normalize_content_filename: no directory, ``[a-zA-Z0-9_.-]`` only; nothing else changes."""
    with running_mock() as mock:
        root = login(mock.url, mock.user, mock.password)
        before = mock.control.dump()
        status, _ = _upload(mock.port, root, filename)
        assert status == 200
        content = httpx.get(f"{mock.url}/api2/json/nodes/pve1/storage/local/content", headers=root.headers)
        volids = {item["volid"] for item in content.json()["data"]}
        assert f"local:iso/{stored}" in volids
        assert all(v.count("/") == 1 for v in volids if v.startswith("local:iso/"))  # never a subdirectory
        after = mock.control.dump()
        assert {k: v for k, v in after.items() if k not in ("storages", "tasks", "counters")} == {
            k: v for k, v in before.items() if k not in ("storages", "tasks", "counters")}


@pytest.mark.parametrize(("params", "key", "error"), [
    ("vmid=1e309", "vmid", "type check ('integer') failed - got '1e309'"),
    ("vmid=99999999999999999999999", "vmid", "invalid format - value does not look like a valid VM ID\n"),
    ("vmid=-0", "vmid", "invalid format - value does not look like a valid VM ID\n"),
    ("vmid=0x10", "vmid", "type check ('integer') failed - got '0x10'"),
    ("vmid=%2B150", "vmid", "invalid format - value does not look like a valid VM ID\n"),
    ("vmid=150%00", "vmid", "type check ('integer') failed - got '150\x00'"),
    ("vmid=150&cpuunits=99999999999999999999999", "cpuunits", "value must have a maximum value of 262144"),
    ("vmid=150&cores=-0", "cores", "value must have a minimum value of 1"),
    ("vmid=150&cpulimit=1e309", "cpulimit", "value must have a maximum value of 128"),
    ("vmid=150&cpulimit=-1e309", "cpulimit", "value must have a minimum value of 0"),
    ("vmid=150&cpulimit=0x10", "cpulimit", "type check ('number') failed - got '0x10'"),
    ("vmid=150&cpulimit=NaN", "cpulimit", "type check ('number') failed - got 'NaN'"),
    ("vmid=150&cpulimit=inf", "cpulimit", "type check ('number') failed - got 'inf'"),
    ("vmid=150&cpulimit=1e99999999999", "cpulimit", "value must have a maximum value of 128"),
    ("vmid=150&name=web%00evil", "name", "invalid format - value does not look like a valid DNS name\n"),
    ("vmid=150&ostype=l26%00", "ostype", "value 'l26\x00' does not have a value in the enumeration"),
])
def test_enormous_odd_and_nul_values_fail_validation_like_pve(
        pve: PVEMock, root: Login, params: str, key: str, error: str) -> None:
    status, errors = call(pve, root, "POST", "/api2/json/nodes/pve1/qemu", params.encode())
    assert status == 400
    assert errors[key].startswith(error), errors


@pytest.mark.parametrize(("body", "error"), [
    (b'{"vmid": 1e309}', "type check ('integer') failed - got 'Inf'"),
    (b'{"vmid": -1e309}', "type check ('integer') failed - got '-Inf'"),
    (b'{"vmid": 99999999999999999999999}', "invalid format - value does not look like a valid VM ID\n"),
    (b'{"vmid": -0}', "invalid format - value does not look like a valid VM ID\n"),
    (b'{"vmid": 1.5}', "type check ('integer') failed - got '1.5'"),
    (b'{"vmid": 15e-1}', "type check ('integer') failed - got '1.5'"),
    (b'{"vmid": "150\\u0000"}', "type check ('integer') failed - got '150\x00'"),
    (b'{"vmid": true}', "type check ('integer') failed - got JSON::PP::Boolean"),
])
def test_enormous_and_odd_json_numbers_fail_validation(pve: PVEMock, root: Login, body: bytes, error: str) -> None:
    status, errors = call(pve, root, "POST", "/api2/json/nodes/pve1/qemu", body, "application/json")
    assert status == 400
    assert errors["vmid"].startswith(error), errors
