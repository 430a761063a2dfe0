"""Matching a path to its operation, PVE's way, without scanning routes."""

from __future__ import annotations

from pvegateway.apidoc.schema import load_schema
from pvegateway.http.dispatch import Router

ROUTER = Router(load_schema("9.2").operations)


def test_parameters_are_captured() -> None:
    match = ROUTER.match("GET", "/nodes/pve1/qemu/100/status/current")
    assert match.operation is not None
    assert match.operation.path == "/nodes/{node}/qemu/{vmid}/status/current"
    assert match.params == {"node": "pve1", "vmid": "100"}


def test_empty_segments_and_trailing_slashes_are_harmless() -> None:
    match = ROUTER.match("GET", "//nodes//pve1/qemu/")
    assert match.operation is not None and match.operation.path == "/nodes/{node}/qemu"


def test_root_is_the_index() -> None:
    match = ROUTER.match("GET", "/")
    assert match.operation is not None and match.operation.path == "/"


def test_volume_takes_the_rest_of_the_path() -> None:
    match = ROUTER.match("GET", "/nodes/pve1/storage/nas/content/nas:backup/vzdump-qemu-100.vma.zst")
    assert match.operation is not None
    assert match.params["volume"] == "nas:backup/vzdump-qemu-100.vma.zst"


def test_ipset_cidr_takes_the_rest_of_the_path() -> None:
    match = ROUTER.match("DELETE", "/cluster/firewall/ipset/office/10.0.0.0/24")
    assert match.operation is not None and match.params == {"name": "office", "cidr": "10.0.0.0/24"}


def test_known_path_with_other_method_finds_the_node_but_no_operation() -> None:
    match = ROUTER.match("DELETE", "/version")
    assert match.node_found and match.operation is None


def test_unknown_path_finds_nothing() -> None:
    assert not ROUTER.match("GET", "/no/such/thing").node_found
