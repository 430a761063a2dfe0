"""pve-common (and misc pve-manager/cluster/storage/network) code formats answer like PVE."""

from __future__ import annotations

import time

import pytest

from pvegateway.schema.formats._net import IPV4_MASKS, is_cidr, is_ip, is_ipv4, is_ipv6
from pvegateway.schema.formats._perl import PerlRe, split_list, word_view
from pvegateway.schema.formats.common import FORMATS
from tests.schema.format_cases import errors_of, value_tests

CERT = (
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBszCCAVmgAwIBAgIUQk9HVVNDRVJUSUZJQ0FURUZPUlRFU1RTMAoGCCqGSM49\n"
    "BAMCMBQxEjAQBgNVBAMMCXB2ZTEubGFuMB4XDTI0MDEwMTAwMDAwMFoXDTM0MDEw\n"
    "MTAwMDAwMFowFDESMBAGA1UEAwwJcHZlMS5sYW4wWTATBgcqhkjOPQIBBggqhkjO==\n"
    "-----END CERTIFICATE-----\n"
)
KEY = (
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgRk9SVEVTVFNPTkxZ\n"
    "-----END PRIVATE KEY-----\n"
)
MALFORMED = "malformed JSON string, neither tag, array, object, number, string or atom"


error_of = errors_of(FORMATS)


VALID = [
    ("string", "anything at all\n"),
    ("urlencoded", "a%20b-_.!~*'()"),
    ("urlencoded", ""),
    ("pve-configid", "snap1"),
    ("pve-configid", "Pre-Upgrade_2"),
    ("pve-storage-id", "local-zfs"),
    ("pve-storage-id", "nas.01"),
    ("pve-bridge-id", "vmbr0.100"),
    ("pve-bridge-id", "brückeé"),
    ("pve-vmid", "100"),
    ("pve-vmid", "999999999"),
    ("pve-node", "pve1"),
    ("pve-node", "a"),
    ("storage-pair", "local-zfs:ceph-rbd"),
    ("storage-pair", "ceph-rbd"),
    ("storage-pair", "1"),
    ("storage-pair", "0"),
    ("bridge-pair", "vmbr0:vmbr1"),
    ("mac-addr", "BC:24:11:07:00:10"),
    ("ipv4", "192.168.0.1"),
    ("ipv6", "fd00:10::1"),
    ("ipv6", "::ffff:10.0.0.1"),
    ("ip", "10.0.0.1"),
    ("ip", "::"),
    ("ldap-simple-attr", "groupOfNames"),
    ("ipv4mask", "255.255.255.0"),
    ("ipv4mask", "0.0.0.0"),
    ("CIDRv4", "10.0.0.0/8"),
    ("CIDRv6", "fd00::/128"),
    ("CIDR", "10.7.0.0/24"),
    ("pve-ipv4-config", "dhcp"),
    ("pve-ipv4-config", "10.0.0.5/24"),
    ("pve-ipv6-config", "auto"),
    ("pve-ipv6-config", "fd00::5/64"),
    ("email", "ops@lab.example"),
    ("email", "first.last+tag@localhost"),
    ("email-or-username", "root"),
    ("email-or-username", "a@b.c"),
    ("dns-name", "web-frontend.lab"),
    ("timezone", "UTC"),
    ("timezone", "Europe/Vienna"),
    ("pve-iface", "eno1"),
    ("pve-iface", "vmbr0.100"),
    ("pve-iface", "bond0:1"),
    ("pve-vlan-id-or-range", "100"),
    ("pve-vlan-id-or-range", "2-4094"),
    ("pve-vlan-id-or-range", "5-0"),  # a false end tag is ignored
    ("address", "10.0.0.11"),
    ("address", "ldap.lab"),
    ("disk-size", "32G"),
    ("disk-size", "1.5TiB"),
    ("disk-size", "1024"),
    ("pve-startup-order", "order=1,up=30,down=60"),
    ("pve-startup-order", "2"),
    ("pve-tag", "prod+web.v2"),
    ("pve-tfa-secret", "JBSWY3DPEHPK3PXP"),
    ("pve-tfa-secret", "v2-0x" + "ab" * 10),
    ("pve-task-status-type", "OK"),
    ("pve-cpuset", "0-3,8, 10 "),
    ("pve-cpuset", ""),
    ("FullRangeCIDR", "0.0.0.0/0"),
    ("FullRangeCIDR", "::/0"),
    ("pve-day-of-week", "sun"),
    ("pve-dir-override", "iso=isos/linux"),
    ("pve-dir-override", "backup=.dumps"),
    ("pve-acme-domain", "pve1.lab.example"),
    ("pve-acme-alias", "_acme.lab.example"),
    ("graphite-path", "proxmox.pve"),
    ("mac-prefix", "BC:24:11"),
    ("mac-prefix", "02:"),
    ("pem-certificate-chain", CERT),
    ("pem-certificate", "subject=CN=pve1\n" + CERT),
    ("pem-certificate-chain", "subject=CN=pve1\n" + CERT + "\n\n" + CERT),
    ("pem-string", KEY),
    ("pve-command-batch", '[{"path": "version", "method": "GET", "args": {}}]'),
    ("pve-command-batch", "[]"),
    ("pve-calendar-event", "*/15"),
]

INVALID = [
    # from the golden corpus
    ("pve-vmid", "7", "value does not look like a valid VM ID\n"),
    ("pve-vmid", "-5", "value does not look like a valid VM ID\n"),
    ("pve-vmid", "1000000000", "value does not look like a valid VM ID\n"),
    ("pve-configid", "-daily", "invalid configuration ID '-daily'\n"),
    ("pve-configid", "vor.update", "invalid configuration ID 'vor.update'\n"),
    ("pve-configid", "pre patch", "invalid configuration ID 'pre patch'\n"),
    ("pve-configid", "b", "invalid configuration ID 'b'\n"),
    ("pve-storage-id", "local/zfs", "storage ID 'local/zfs' contains illegal characters\n"),
    ("pve-storage-id", "n", "storage ID 'n' cannot be shorter than 2 characters\n"),
    ("pve-storage-id", "_nas", "storage ID '_nas' contains illegal characters\n"),
    ("pve-storage-id", "thin data", "storage ID 'thin data' contains illegal characters\n"),
    (
        "address",
        "spice.example.net:3128",
        "value does not look like a valid address: spice.example.net:3128\n",
    ),
    ("address", "10.0.0.11:636", "value does not look like a valid address: 10.0.0.11:636\n"),
    ("pve-node", "pve3.", "value does not look like a valid node name\n"),
    ("pve-node", "pve_3", "value does not look like a valid node name\n"),
    (
        "storage-pair",
        "local-zfs:",
        "entry 'local-zfs:' contains invalid ID - storage ID 'local-zfs:' contains illegal characters\n\n\n",
    ),
    (
        "storage-pair",
        "local-zfs:9store",
        "entry 'local-zfs:9store' contains invalid ID"
        " - storage ID '9store' contains illegal characters\n\n\n",
    ),
    (
        "storage-pair",
        "x:local-zfs",
        "entry 'x:local-zfs' contains invalid ID"
        " - storage ID 'x' cannot be shorter than 2 characters\n\n\n",
    ),
    (
        "ldap-simple-attr",
        "posix_group",
        "value 'posix_group' does not look like a simple ldap attribute name\n",
    ),
    ("pve-iface", "3enp", "invalid network interface name '3enp'\n"),
    ("email", "admin@", "value does not look like a valid email address\n"),
    ("email", "ops@example.org;nope", "value does not look like a valid email address\n"),
    ("email-or-username", "a b", "value does not look like a valid email address or user name\n"),
    ("graphite-path", "proxmox..pve", "value does not look like a valid graphite path\n"),
    ("CIDR", "10.7.0.0", "value does not look like a valid CIDR network\n"),
    ("CIDR", "fd00:10::", "value does not look like a valid CIDR network\n"),
    ("dns-name", "lab_a", "value does not look like a valid DNS name\n"),
    ("dns-name", "vm-ü", "value does not look like a valid DNS name\n"),
    ("dns-name", "alp1-", "value does not look like a valid DNS name\n"),
    ("ip", "peer2", "value does not look like a valid IP address\n"),
    ("ip", "9.9.9.9:53", "value does not look like a valid IP address\n"),
    ("pve-tag", "-bad", "invalid characters in tag\n"),
    ("pem-certificate-chain", CERT[:160], "not a valid PEM-formatted string.\n"),
    ("pem-string", CERT[:-8], "not a valid PEM-formatted string.\n"),
    ("pve-day-of-week", "monday", "invalid day 'monday'\n"),
    ("mac-prefix", "03:00:00", "value is not a valid unicast MAC address prefix\n"),
    ("mac-addr", "BC-24-11-07-00-10", "value does not look like a valid unicast MAC address\n"),
    ("mac-addr", "BC:24:11:00:00:00:01", "value does not look like a valid unicast MAC address\n"),
    (
        "pve-calendar-event",
        "jan 01",
        "invalid calendar event 'jan 01' - unable to parse calendar event at 'jan'"
        ' - Context("weekday")\n\n',
    ),
    (
        "pve-calendar-event",
        "02:60",
        "invalid calendar event '02:60' - unable to parse calendar event at '02:60'"
        ' - Context("date or time specification")\n\n',
    ),
    # further texts from the sources
    ("urlencoded", "a b", "invalid urlencoded string: a b\n"),
    ("pve-bridge-id", "vmbr 0", "invalid bridge ID 'vmbr 0'\n"),
    ("pve-bridge-id", "br²", "invalid bridge ID 'br²'\n"),  # '²' is \w to Python, not to Perl
    ("storage-pair", "aa:bb,aa:cc", "duplicate mapping for source 'aa'\n\n"),
    ("storage-pair", "1 nas01", "identity mapping cannot be combined with other mappings\n\n"),
    ("storage-pair", "nas01,nas02", "default target ID can only be provided once\n\n"),
    ("bridge-pair", "vmbr0:vm#1", "entry 'vmbr0:vm#1' contains invalid ID - invalid bridge ID 'vm#1'\n\n\n"),
    ("ipv4", "192.168.0.01", "value does not look like a valid IPv4 address\n"),
    ("ipv6", "fe80::1%eth0", "value does not look like a valid IPv6 address\n"),
    ("ipv4mask", "255.0.255.0", "value does not look like a valid IP netmask\n"),
    ("CIDRv4", "10.0.0.0/7", "value does not look like a valid IPv4 CIDR network\n"),
    ("CIDRv4", "10.0.0.0/٢٤", "value does not look like a valid IPv4 CIDR network\n"),
    ("CIDRv6", "fd00::/129", "value does not look like a valid IPv6 CIDR network\n"),
    ("pve-ipv4-config", "auto", "value does not look like a valid ipv4 network configuration\n"),
    ("pve-ipv6-config", "10.0.0.1/24", "value does not look like a valid ipv6 network configuration\n"),
    ("timezone", "Mars/Olympus", "invalid time zone 'Mars/Olympus'\n"),
    ("timezone", "", "invalid time zone ''\n"),
    ("pve-vlan-id-or-range", "1", "invalid VLAN tag '1'\n"),
    ("pve-vlan-id-or-range", "10-4095", "invalid VLAN tag '4095'\n"),
    ("pve-vlan-id-or-range", "10-10", "VLAN range must go from lower to higher tag '10-10'\n"),
    ("pve-vlan-id-or-range", "10,20", "invalid VLAN configuration '10,20'\n"),
    ("disk-size", "12k", "value does not look like a valid disk size: 12k\n"),
    ("pve-startup-order", "0", "unable to parse startup options\n"),
    ("pve-startup-order", "order=1,later=5", "unable to parse startup options\n"),
    ("pve-tfa-secret", "JBSWY3DP", "unable to decode TFA secret\n"),
    ("pve-task-status-type", "fine", "invalid status 'fine'\n"),
    ("pve-cpuset", "3-1", "unable to parse cpuset option\n"),
    ("pve-cpuset", ",1", "unable to parse cpuset option\n"),
    ("FullRangeCIDR", "10.0.0.0/33", "value does not look like a valid CIDR network\n"),
    ("pve-dir-override", "isos=iso", "invalid content type 'isos'\n"),
    ("pve-dir-override", "iso=a..b", "invalid override 'iso=a..b'\n"),
    ("pve-dir-override", "iso=" + "x" * 255, "invalid override 'iso=" + "x" * 255 + "'\n"),
    ("pve-acme-domain", "localhost", "value 'localhost' does not look like a valid domain name!\n"),
    ("pve-acme-alias", "-x.lab", "value '-x.lab' does not look like a valid alias name!\n"),
    ("pem-string", "no pem here", "not a valid PEM-formatted string.\n"),
    ("pem-certificate-chain", KEY, "not a valid PEM-formatted string.\n"),
    # pve-common src/PVE/Certificate.pm:16-23, 150-153: one block only, of label CERTIFICATE
    ("pem-certificate", CERT + "\n" + CERT, "not a valid PEM-formatted string.\n"),
    ("pem-certificate", KEY, "not a valid PEM-formatted string.\n"),
]


test_valid_values_pass, test_invalid_values_fail_with_pve_text = value_tests(FORMATS, VALID, INVALID)


@pytest.mark.parametrize(
    ("name", "value"),
    [("pve-configid", "snap1\n"), ("pve-vmid", "100\n"), ("pve-node", "pve1\n"), ("ip", "10.0.0.1\n")],
)
def test_pve_common_formats_reject_a_trailing_newline(name: str, value: str) -> None:
    # pve-common anchors with \z at HEAD
    assert error_of(name, value) is not None


@pytest.mark.parametrize(
    ("name", "value"),
    [("graphite-path", "a.b\n"), ("pve-day-of-week", "mon\n"), ("mac-prefix", "02:00\n")],
)
def test_formats_anchored_with_perl_dollar_allow_a_trailing_newline(name: str, value: str) -> None:
    assert error_of(name, value) is None


CALENDAR_VALID = [
    "daily", "hourly", "minutely", "weekly", "monthly", "yearly", "annually", "quarterly",
    "semiannually", "semi-annually", "daily UTC", "  mon..fri 02:00  ", "sat,sun 5:30",
    "02:00", "*-*-01 00:00", "2024-06-01", "mon *-*-* 03:15:30", "fri..mon", "0/5:00",
    "25:00",  # hour 25 is out of range, so the parser takes 25:00 as minute:second
]  # fmt: skip

CALENDAR_INVALID = [
    ("", "unable to parse calendar event - event is empty"),
    (" \t", "unable to parse calendar event - event is empty"),
    ("daily 03:30", "unable to parse calendar event at 'daily' - Context(\"weekday\")"),
    ("Daily", "unable to parse calendar event at 'Daily' - Context(\"weekday\")"),
    ("mon,foo", "unable to parse calendar event at ',foo' - Nom(Eof)"),
    ("mon x", "unable to parse calendar event at 'x' - Nom(Eof)"),
    ("02:00 x", "unable to parse calendar event at ' x' - Nom(Eof)"),
    ("*/0", "unable to parse calendar event at '/0' - Nom(Eof)"),
    ("12:61", "unable to parse calendar event at '12:61' - Context(\"date or time specification\")"),
    ("1..0", "unable to parse calendar event at '1..0' - Context(\"date or time specification\")"),
    ("UTC", "unable to parse calendar event at '' - Context(\"date or time specification\")"),
    ("-1", "unable to parse calendar event at '-1' - Context(\"date or time specification\")"),
]


@pytest.mark.parametrize("value", CALENDAR_VALID)
def test_calendar_events_pve_accepts(value: str) -> None:
    assert error_of("pve-calendar-event", value) is None


@pytest.mark.parametrize(("value", "reason"), CALENDAR_INVALID)
def test_calendar_event_errors_carry_the_parser_message(value: str, reason: str) -> None:
    assert error_of("pve-calendar-event", value) == f"invalid calendar event '{value}' - {reason}\n\n"


BATCH_INVALID = [
    ("{}", "400 Parameter verification failed.\n_root: type check ('array') failed\n"),
    ("null", "400 Parameter verification failed.\n_root: property is missing and it is not optional\n"),
    (
        '[{"path": "x", "method": "get"}, 5]',
        "400 Parameter verification failed.\n[0].method: value does not match the regex pattern\n"
        "[1]: type check ('object') failed\n",
    ),
    (
        '[{"path": true, "method": "GET", "args": []}]',
        "400 Parameter verification failed.\n[0].args: type check ('object') failed\n"
        "[0].path: type check ('string') failed - got JSON::PP::Boolean\n",
    ),
]


@pytest.mark.parametrize(("value", "lines"), BATCH_INVALID)
def test_command_batch_reports_schema_errors_like_pve_exception(value: str, lines: str) -> None:
    assert error_of("pve-command-batch", value) == f"commands is not a valid array of commands: {lines}"


@pytest.mark.parametrize(
    ("value", "croak"),
    [
        ("[x]", f'{MALFORMED}, at character offset 1 (before "x]")'),
        ('[1 2]', ', or ] expected while parsing array, at character offset 3 (before "2]")'),
        ('{"a" 1}', "':' expected, at character offset 5 (before \"1}\")"),
        ("[01]", "malformed number (leading zero must not be followed by another digit),"
                 ' at character offset 2 (before "1]")'),
        ("[] x", 'garbage after JSON object, at character offset 3 (before "x")'),
        ("[", f'{MALFORMED}, at character offset 1 (before "(end of string)")'),
        ('"' + "a" * 30, "unexpected end of string while parsing JSON string,"
                         ' at character offset 31 (before "(end of string)")'),
        ('["\\x"]', 'illegal backslash escape sequence in string, at character offset 2 (before "\\\\x\"]")'),
        ("[" * 513, "json text or perl structure exceeds maximum nesting level (max_depth set too low?),"
                    ' at character offset 513 (before "(end of string)")'),
        ("[\"\u0101\"]", "Wide character in subroutine entry"),
    ],
)  # fmt: skip
def test_command_batch_reports_json_xs_errors(value: str, croak: str) -> None:
    assert error_of("pve-command-batch", value) == f"commands param did not contain valid JSON: {croak}\n"


def test_pem_check_stays_linear_on_hostile_whitespace() -> None:
    hostile = "-----BEGIN CERTIFICATE-----" + " \n" * 40000 + "x"
    started = time.perf_counter()
    assert error_of("pem-certificate-chain", hostile) == "not a valid PEM-formatted string.\n"
    assert error_of("pem-certificate-chain", (CERT + "\n") * 300 + "x") is not None
    assert time.perf_counter() - started < 2


def test_net_helpers_follow_pve_common() -> None:
    assert is_ipv4("10.0.0.1") and not is_ipv4("10.0.0.1\n") and is_ipv4("10.0.0.1\n", dollar=True)
    assert is_ipv6("2001:db8::1") and not is_ipv6("10.0.0.1")
    assert is_ip("::1") and not is_ip("::1/64")
    assert is_cidr("10.0.0.0/8") and not is_cidr("10.0.0.0/7") and is_cidr("10.0.0.0/0", min_len=0)
    assert len(IPV4_MASKS) == 33 and "255.255.255.254" in IPV4_MASKS


def test_perl_helpers() -> None:
    assert split_list(" a,b;c  d ") == ["a", "b", "c", "d"]
    assert split_list("a,b\0c") == ["a,b", "c"]
    assert split_list("") == []
    assert PerlRe("ab", dollar=True)("ab\n") and not PerlRe("ab", dollar=False)("ab\n")
    assert word_view("é²") == "\x01\x02"


def test_registered_names() -> None:
    assert set(FORMATS) == {name for name, _ in VALID} | {name for name, _, _ in INVALID} | {"pem-string"}
