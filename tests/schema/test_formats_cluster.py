"""HA, replication and SDN code formats answer like PVE."""

from __future__ import annotations

import pytest

from pvegateway.schema.formats import FormatError
from pvegateway.schema.formats.cluster import FORMATS
from tests.schema.format_cases import errors_of, value_tests

error_of = errors_of(FORMATS)


VALID = [
    ("pve-ha-resource-id", "vm:120"),
    ("pve-ha-resource-id", "ct:dns-1"),
    ("pve-ha-resource-or-vm-id", "120"),
    ("pve-ha-resource-or-vm-id", "vm:120"),
    ("pve-ha-node", "pve1"),
    ("pve-ha-node", "pve1:2"),
    ("pve-replication-job-id", "120-1"),
    ("pve-replication-job-id", "120-0\n"),  # Perl's $ allows a trailing newline
    ("pve-sdn-vnet-id", "vnet7"),
    ("pve-sdn-zone-id", "zone7"),
    ("pve-sdn-ipam-id", "netbox1"),
    ("pve-sdn-dns-id", "pdns1"),
    ("pve-sdn-controller-id", "ctl_2-a"),
    # pve-network src/PVE/Network/SDN/SubnetPlugin.pm:35-53 (parse_sdn_subnet_id): an id with a '/' is
    # the CIDR itself; otherwise it is ZONE-IP-MASK, as PVE names a subnet of a zone
    ("pve-sdn-subnet-id", "zone1-10.7.0.0-24"),
    ("pve-sdn-subnet-id", "10.7.0.0/24"),
    ("pve-sdn-subnet-id", "zone1-fd00::-64"),
    ("pve-sdn-bgp-rt", "65000:100"),
    ("pve-sdn-bgp-rt", "4294967295:4294967295"),
    ("pve-sdn-isis-net", "49.0001.1921.6800.1002.00"),
    ("pve-sdn-fabric-id", "f"),
    ("pve-sdn-fabric-id", "Fab-01"),
    ("pve-sdn-prefix-list-id", "only_defaults"),
    ("pve-sdn-prefix-list-id", "a_b-c"),
    ("pve-sdn-route-map-id", "map-in"),
]

INVALID = [
    # from the golden corpus
    ("pve-ha-node", "pve1:high", "value does not look like a valid ha node\n"),
    ("pve-ha-resource-id", "Vm:120", "value does not look like a valid ha resource id\n"),
    ("pve-ha-resource-id", ":120", "value does not look like a valid ha resource id\n"),
    ("pve-ha-resource-id", "vm:", "value does not look like a valid ha resource id\n"),
    ("pve-replication-job-id", "abc-0", "invalid replication job id 'abc-0'\n"),
    ("pve-sdn-subnet-id", "10.7.0.0", "value does not look like a valid CIDR network\n"),
    # further texts from the sources
    ("pve-ha-resource-id", "vm:1 2", "value does not look like a valid ha resource id\n"),
    ("pve-ha-resource-or-vm-id", "1x", "value does not look like a valid ha resource id\n"),
    ("pve-ha-node", "-pve", "value does not look like a valid ha node\n"),
    ("pve-replication-job-id", "99-1", "invalid replication job id '99-1' (guest IDs < 100 are reseved)\n"),
    # Perl numifies non-ASCII digits to 0
    ("pve-replication-job-id", "١٢٣-1", "invalid replication job id '١٢٣-1' (guest IDs < 100 are reseved)\n"),
    ("pve-sdn-vnet-id", "vnet-7", "vnet ID 'vnet-7' contains illegal characters\n"),
    ("pve-sdn-vnet-id", "vnetlab99", "vnet ID 'vnetlab99' can't be more length than 8 characters\n"),
    ("pve-sdn-zone-id", "z", "zone ID 'z' contains illegal characters\n"),
    ("pve-sdn-zone-id", "zonelab99", "zone ID 'zonelab99' can't be more length than 8 characters\n"),
    ("pve-sdn-ipam-id", "net-box", "ipam ID 'net-box' contains illegal characters\n"),
    ("pve-sdn-dns-id", "2dns", "dns ID '2dns' contains illegal characters\n"),
    ("pve-sdn-controller-id", "ctl-", "controller ID 'ctl-' contains illegal characters\n"),
    (
        "pve-sdn-controller-id",
        "c" * 65,
        f"controller ID '{'c' * 65}' can't be more length than 64 characters\n",
    ),
    ("pve-sdn-subnet-id", "zone1-10.7.0.0-33", "value does not look like a valid CIDR network\n"),
    ("pve-sdn-subnet-id", "10.7.0.0-24", "value does not look like a valid CIDR network\n"),  # no zone
    ("pve-sdn-bgp-rt", "65000", "value does not look like a valid bgp route-target\n"),
    ("pve-sdn-bgp-rt", "4294967296:1", "value does not look like a valid bgp route-target\n"),
    ("pve-sdn-isis-net", "49.0001.1921.00", "value does not look like a valid isis net\n"),
    ("pve-sdn-fabric-id", "fab_1", "Fabric ID 'fab_1' contains illegal characters\n"),
    ("pve-sdn-fabric-id", "fabric-01", "Fabric ID 'fabric-01' contains illegal characters\n"),
    (
        "pve-sdn-prefix-list-id",
        "only_default",
        "prefix list ID 'only_default' is currently reserved and cannot be used\n",
    ),
    ("pve-sdn-prefix-list-id", "-x", "prefix list ID '-x' contains illegal characters\n"),
    ("pve-sdn-route-map-id", "pve_in", "route map ID 'pve_in' is currently reserved and cannot be used\n"),
    ("pve-sdn-route-map-id", "map.in", "route map ID 'map.in' contains illegal characters\n"),
]


test_valid_values_pass, test_invalid_values_fail_with_pve_text = value_tests(FORMATS, VALID, INVALID)


def test_hash_formats_are_not_registered_as_code() -> None:
    assert "pve-sdn-fabric-wireguard-interface" not in FORMATS


def test_registered_names() -> None:
    tested = {name for name, _ in VALID} | {name for name, _, _ in INVALID} | {"pve-sdn-wireguard-iface-name"}
    assert set(FORMATS) == tested


def test_wireguard_interface_name_limits() -> None:
    check = FORMATS["pve-sdn-wireguard-iface-name"]
    check("wg0")
    with pytest.raises(FormatError) as err:
        check("wireguard0")
    assert err.value.text == (
        "WireGuard interface name 'wireguard0' contains illegal characters or exceeds the eight character limit\n"
    )
