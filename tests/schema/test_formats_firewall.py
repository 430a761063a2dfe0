"""pve-firewall code formats: accepted values and PVE's exact die texts (incl. Net::IP's)."""

from __future__ import annotations

import ipaddress

from hypothesis import given, settings
from hypothesis import strategies as st

from pvegateway.schema.formats._netip import NetIP, net_ip_new
from pvegateway.schema.formats.firewall import CONNTRACK_HELPER_DIE_LOCATION, FORMATS
from tests.schema.format_cases import value_tests


def test_registers_bare_names_only() -> None:
    assert set(FORMATS) == {
        "IPorCIDR",
        "IPorCIDRorAlias",
        "pve-fw-addr-spec",
        "pve-fw-conntrack-helper",
        "pve-fw-dport-spec",
        "pve-fw-icmp-type-spec",
        "pve-fw-protocol-spec",
        "pve-fw-sport-spec",
    }


VALID = [
    # golden corpus
    ("IPorCIDR", "172.16.5.0/24"),
    ("IPorCIDR", "192.0.2.53"),
    ("IPorCIDRorAlias", "198.51.100.7/32"),
    ("IPorCIDRorAlias", "2001:db8:1::/48"),
    ("IPorCIDRorAlias", "10.20.0.0/16"),
    ("IPorCIDRorAlias", "10.30.0.0"),
    ("IPorCIDRorAlias", "fd12:3456::/64"),
    ("IPorCIDRorAlias", "2001:db8:f00::/40"),
    ("IPorCIDRorAlias", "172.16.0.0/12"),
    ("pve-fw-addr-spec", "10.50.0.0/16"),
    ("pve-fw-addr-spec", "+dc/blocklist-v6"),
    ("pve-fw-dport-spec", "22,80,443:445"),
    ("pve-fw-dport-spec", "8006"),
    ("pve-fw-sport-spec", "0"),
    ("pve-fw-protocol-spec", "udp"),
    ("pve-fw-protocol-spec", "tcp"),
    ("pve-fw-icmp-type-spec", "echo-request"),
    # from the sources
    ("IPorCIDR", "192.168.1.155/24"),  # host bits may be set (clean_cidr)
    ("IPorCIDR", "::ffff:10.0.0.1/120"),
    ("IPorCIDR", "10.0.0.1\n"),  # Perl's $ and Net::IP both allow the trailing newline
    ("IPorCIDRorAlias", "office"),
    ("IPorCIDRorAlias", "dc/office"),
    ("IPorCIDRorAlias", "guest/office"),
    ("pve-fw-addr-spec", "10.0.0.1-10.0.0.9"),
    ("pve-fw-addr-spec", "10.0.0.1,10.0.1.0/24"),
    ("pve-fw-addr-spec", "2001:db8::/32,fd00::1"),
    ("pve-fw-addr-spec", "guest/web-servers"),
    ("pve-fw-addr-spec", "10.0.0.1/foo"),  # Net::IP ignores a suffix it cannot read
    ("pve-fw-addr-spec", "10.0.0.1 + 5"),
    ("pve-fw-addr-spec", "10.1"),  # short IPv4 forms are expanded (10.1.0.0)
    ("pve-fw-dport-spec", "ssh,http,domain"),
    ("pve-fw-dport-spec", "echo-request"),
    ("pve-fw-dport-spec", "neighbour-solicitation"),
    ("pve-fw-dport-spec", "0:65535"),
    ("pve-fw-dport-spec", ""),
    ("pve-fw-sport-spec", "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15"),
    ("pve-fw-protocol-spec", "icmpv6"),
    ("pve-fw-protocol-spec", "ipv6-icmp"),
    ("pve-fw-protocol-spec", "47"),
    ("pve-fw-protocol-spec", "0"),
    ("pve-fw-protocol-spec", ""),
    ("pve-fw-icmp-type-spec", "any"),
    ("pve-fw-icmp-type-spec", "packet-too-big"),
    ("pve-fw-icmp-type-spec", ""),
    ("pve-fw-conntrack-helper", "ftp,tftp,netbios-ns"),
    ("pve-fw-conntrack-helper", ""),
]


_NO_CIDR = "value does not look like a valid IP address or CIDR network\n"


INVALID = [
    # golden corpus
    ("IPorCIDR", "+dc/mgmt", _NO_CIDR),
    ("IPorCIDRorAlias", "198.51.100.x", _NO_CIDR),
    ("IPorCIDRorAlias", "10.0.0.1-10.0.0.9", _NO_CIDR),
    ("IPorCIDRorAlias", "10.30.0.0/64", "Prefix length 64 is longer than IP address (32)\n"),
    ("IPorCIDRorAlias", "fd12:3456::/200", "Prefix length 200 is longer than IP address (128)\n"),
    ("pve-fw-addr-spec", "192.168.10.5/40", "invalid IP address: Prefix length 40 is longer than IP address (32)\n"),
    ("pve-fw-addr-spec", "2001:db8::1-10.0.0.1", "invalid IP address: Invalid number of octets 0a00:0001\n"),
    # from the sources (Net::IP texts checked against libnet-ip-perl 1.26)
    ("IPorCIDR", "010.0.0.1", _NO_CIDR),
    ("IPorCIDR", "1.2.3.4/0", "Invalid prefix 00000001000000100000001100000100/0\n"),
    ("IPorCIDRorAlias", "dc/x", _NO_CIDR),
    ("IPorCIDRorAlias", "site/office", _NO_CIDR),
    ("pve-fw-addr-spec", "198.51.100.x", "invalid IP address: Invalid chars in IP 198.51.100.x\n"),
    ("pve-fw-addr-spec", "1.2.3.256", "invalid IP address: Invalid quad in IP address 1.2.3.256 - 256\n"),
    ("pve-fw-addr-spec", "1.2..3", "invalid IP address: Empty quad in IP address 1.2..3\n"),
    ("pve-fw-addr-spec", "1.2.3.4/24", "invalid IP address: Invalid prefix 00000001000000100000001100000100/24\n"),
    (
        "pve-fw-addr-spec",
        "10.0.0.9-10.0.0.1",
        "invalid IP address: Begin address is greater than End address 10.0.0.9 - 10.0.0.1\n",
    ),
    ("pve-fw-addr-spec", "1:2:3:4:5:6:7:8:9", "invalid IP address: \n"),  # Net::IP sets no error
    ("pve-fw-addr-spec", "::1-zz", "invalid IP address: Invalid chars in IP 00zz\n"),
    ("pve-fw-addr-spec", "1.2.3.4-::1", "invalid IP address: Not a valid IPv4 address ::1\n"),
    (
        "pve-fw-addr-spec",
        "::1-::1.2.3.x",
        "invalid IP address: Invalid address 0000:0000:0000:0000:0000:0000: (ends with :)\n",
    ),
    (
        "pve-fw-addr-spec",
        "255.255.255.250 + 0x10",
        "invalid IP address: Begin address is greater than End address 255.255.255.250 - 0.0.0.10\n",
    ),
    ("pve-fw-addr-spec", "10.0.0.1,,10.0.0.2", "invalid IP address: Invalid chars in IP \n"),
    ("pve-fw-addr-spec", "10.0.0.1,", "extraneous commas in list\n"),
    ("pve-fw-addr-spec", "10.0.0.1,fd00::1", "detected mixed ipv4/ipv6 addresses in address list '10.0.0.1,fd00::1'\n"),
    ("pve-fw-addr-spec", "10.0.0.1-10.0.0.5,10.0.0.9", "you can't use a range in a list\n"),
    ("pve-fw-addr-spec", "+" + "s" * 65, "ipset name too long\n"),
    ("pve-fw-addr-spec", "dc/" + "a" * 62, "alias name too long\n"),
    ("pve-fw-dport-spec", "70000", "invalid port '70000'\n"),
    ("pve-fw-dport-spec", "22:70000", "invalid port '70000'\n"),
    ("pve-fw-dport-spec", "90:80", "backwards range '90:80' not allowed, did you mean '80:90'?\n"),
    ("pve-fw-dport-spec", "nosuchservice", "invalid port 'nosuchservice'\n"),
    ("pve-fw-dport-spec", "echo-request,22", "ICMP ports not allowed in port range\n"),
    ("pve-fw-dport-spec", "22,", "extraneous commas in list\n"),
    ("pve-fw-dport-spec", "1:2,3:4,5:6,7:8,9:10,11:12,13:14,15:16", "too many entries in port list (> 15 numbers)\n"),
    ("pve-fw-sport-spec", "echo-request", "invalid port 'echo-request'\n"),
    ("pve-fw-protocol-spec", "tcpx", "unknown protocol 'tcpx'\n"),
    ("pve-fw-protocol-spec", "06", "unknown protocol '06'\n"),
    ("pve-fw-protocol-spec", "IPv6-ICMP", "unknown protocol 'IPv6-ICMP'\n"),  # aliases do not count
    ("pve-fw-icmp-type-spec", "8", "invalid icmp-type value '8'\n"),
    ("pve-fw-icmp-type-spec", "Echo-Request", "invalid icmp-type value 'Echo-Request'\n"),
    ("pve-fw-conntrack-helper", "ftp,http", "unknown helper http" + CONNTRACK_HELPER_DIE_LOCATION),
]


test_valid_values_pass, test_invalid_values_fail_with_pve_text = value_tests(FORMATS, VALID, INVALID)


def test_conntrack_helper_error_carries_perl_location() -> None:
    assert CONNTRACK_HELPER_DIE_LOCATION.startswith(" at /usr/share/perl5/PVE/Firewall.pm line ")
    assert CONNTRACK_HELPER_DIE_LOCATION.endswith(".\n")


# --- plain addresses take a short way to Net::IP's answer ----------------------------------------------

_v4 = st.lists(st.sampled_from(["0", "1", "01", "001", "10", "99", "255", "256", "999", "0000"]), min_size=1,
               max_size=5).map(".".join)
_v6 = st.builds(
    lambda groups, cut, double: ":".join(groups[:cut]) + double + ":".join(groups[cut:]),
    st.lists(st.text("0123456789abcdefABCDEF", min_size=0, max_size=5), max_size=9),
    st.integers(0, 9), st.sampled_from(["", ":", "::", ":::"]),
)
_exact_v4 = st.integers(0, 2**32 - 1).map(lambda n: str(ipaddress.IPv4Address(n)))
_exact_v6 = st.integers(0, 2**128 - 1).map(lambda n: ipaddress.IPv6Address(n).compressed)
_address = st.one_of(_v4, _v6, _exact_v4, _exact_v6)
_element = st.one_of(
    _address,
    st.builds("{}/{}".format, _address, st.sampled_from(["0", "8", "24", "32", "33", "64", "128", "129", "08"])),
    st.builds("{}-{}".format, _address, _address),
    st.builds(lambda a, n: str(ipaddress.ip_network(f"{a}/{n}", strict=False)),
              _exact_v4, st.integers(0, 32)),
)


@settings(derandomize=True, database=None, max_examples=3000)
@given(_element)
def test_plain_addresses_get_net_ips_own_answer(element: str) -> None:
    """``net_ip_new`` answers plain addresses, networks and ranges without the full Net::IP port; the
    port (NetIP, pinned to PVE's texts above) must give the same result and error for each."""
    parser = NetIP()
    assert net_ip_new.__wrapped__(element) == (parser.new(element), parser.error)
