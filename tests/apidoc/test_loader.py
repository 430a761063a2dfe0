"""Loading the apidoc trees: every operation, with the dump's pitfalls undone."""

from __future__ import annotations

import pytest

from pvegateway.apidoc.schema import load_schema


@pytest.mark.parametrize(("version", "nodes", "operations"), [("9.2", 449, 676), ("9.1.11", 435, 650)])
def test_every_operation_is_loaded(version: str, nodes: int, operations: int) -> None:
    schema = load_schema(version)
    assert schema.nodes == nodes
    assert len(schema.operations) == operations
    assert len({op.key for op in schema.operations}) == operations


def _op(key: str, version: str = "9.2"):  # type: ignore[no-untyped-def]
    return next(op for op in load_schema(version).operations if op.key == key)


def test_indexed_keys_are_expanded_to_their_real_ranges() -> None:
    props = _op("POST /nodes/{node}/qemu").parameters["properties"]
    assert "net[n]" not in props
    assert "net31" in props and "net32" not in props
    assert "scsi30" in props and "scsi31" not in props
    assert "ide3" in props and "ide4" not in props
    assert "unused255" in props
    lxc = _op("POST /nodes/{node}/lxc").parameters["properties"]
    assert "mp255" in lxc and "dev255" in lxc and "mp256" not in lxc


def test_strict_empty_parameter_lists_stay_strict_except_pve_open_ones() -> None:
    assert _op("GET /version").parameters.get("properties") == {}
    assert "properties" not in _op("GET /access/ticket").parameters
    assert "additionalProperties" not in _op("GET /access/ticket").parameters


def test_metadata_is_carried() -> None:
    create = _op("POST /nodes/{node}/qemu")
    assert create.protected and create.proxyto == "node" and create.allowtoken
    assert create.path_params == ("node",)
    ticket = _op("POST /access/ticket")
    assert ticket.is_open and not ticket.allowtoken


def test_greedy_path_parameters_are_marked() -> None:
    assert _op("GET /nodes/{node}/storage/{storage}/content/{volume}").greedy_param == "volume"
    assert _op("PUT /cluster/firewall/ipset/{name}/{cidr}").greedy_param == "cidr"
    assert _op("GET /nodes/{node}/qemu/{vmid}/firewall/ipset/{name}/{cidr}").greedy_param == "cidr"
    assert _op("GET /nodes/{node}/qemu/{vmid}/config").greedy_param is None


def test_operation_facts_are_pves() -> None:
    ops = {op.key: op for op in load_schema("9.2").operations}
    assert [op.key for op in ops.values() if op.is_login] == ["POST /access/ticket"]
    assert [op.key for op in ops.values() if op.is_upload] == ["POST /nodes/{node}/storage/{storage}/upload"]
    # worker tasks answer their UPID: qemu-server src/PVE/API2/Qemu.pm create_vm and update_vm_async
    # (fork_worker), pve-manager PVE/API2/VZDump.pm; the synchronous config update answers null, and
    # wakeonlan answers the MAC address it woke (pve-manager PVE/API2/Nodes.pm)
    assert ops["POST /nodes/{node}/qemu"].returns_task and ops["POST /nodes/{node}/qemu/{vmid}/config"].returns_task
    assert ops["POST /nodes/{node}/vzdump"].returns_task
    assert not ops["PUT /nodes/{node}/qemu/{vmid}/config"].returns_task
    assert not ops["POST /nodes/{node}/wakeonlan"].returns_task
    assert not any(op.returns_task for op in ops.values() if op.method == "GET")
