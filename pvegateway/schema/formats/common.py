"""Code formats of pve-common and the small ones of pve-manager, pve-cluster, pve-storage, ...

Sources (read at their HEAD): pve-common ``src/PVE/JSONSchema.pm``, ``ParseUtils.pm``,
``CalendarEvent.pm``, ``Certificate.pm``, ``CpuSet.pm``; qemu-server ``pve-cpuset``; pve-manager
``PVE/API2/Backup.pm`` (``pve-day-of-week``), ``PVE/API2/Nodes.pm`` (``pve-command-batch``),
``PVE/NodeConfig.pm`` (ACME), ``PVE/Status/Graphite.pm``; pve-cluster ``DataCenterConfig.pm``
(``mac-prefix``); pve-storage ``Storage/Plugin.pm`` (``pve-dir-override``); pve-network
``SDN/PrefixLists.pm`` (``FullRangeCIDR``).

Anchoring: pve-common's format patterns end in ``\\z`` (HEAD replaced ``$``), so a trailing
newline is rejected there (``_Z``); the other repositories still use Perl's ``$`` (``_DOLLAR``).
"""

from __future__ import annotations

from collections.abc import Callable

from ..perl import truthy
from . import CodeFormat, FormatError
from ._batch import command_batch_error
from ._calendar import calendar_event_error
from ._net import DNS_LABEL, DNS_NAME, IFACE, IPV4_MASKS, is_cidr, is_dns_name, is_ip, is_ipv4, is_ipv6
from ._pem import is_pem_certificate, is_pem_chain, is_pem_string
from ._perl import WORD_MARK, PerlRe, S, check_format, fail, num, regex_format, split, split_list, word_view
from ._zonetab import is_timezone

_Z = False  # pve-common: m/^...\z/
_DOLLAR = True  # other repositories: m/^...$/


# --- identifiers -------------------------------------------------------------------------------

_CONFIGID = PerlRe("[a-z][a-z0-9_-]+", dollar=_Z, ignorecase=True)
_ID = PerlRe(r"[a-z][a-z0-9\-_.]*[a-z0-9]", dollar=_Z, ignorecase=True)
_BRIDGE_ID = PerlRe(rf"[-_.\w{WORD_MARK}]+", dollar=_Z, ascii=True)


def verify_configid(value: str) -> None:
    if not _CONFIGID(value):
        fail(f"invalid configuration ID '{value}'\n")


def verify_storage_id(value: str) -> None:
    if len(value) < 2:
        fail(f"storage ID '{value}' cannot be shorter than 2 characters\n")
    if not _ID(value):
        fail(f"storage ID '{value}' contains illegal characters\n")


def verify_bridge_id(value: str) -> None:
    if not _BRIDGE_ID(word_view(value)):
        fail(f"invalid bridge ID '{value}'\n")


_PAIR = PerlRe("([^:]+):([^:]+)", dollar=_Z)


def _parse_idmap(idmap: str, check: Callable[[str], None]) -> None:
    if not truthy(idmap):
        return
    identity = False
    entries: dict[str, str] = {}
    default: str | None = None
    for entry in split_list(idmap):
        pair = _PAIR.match(entry)
        if entry == "1":
            identity = True
        elif pair is not None:
            source, target = pair.group(1), pair.group(2)
            try:
                check(source)
                check(target)
            except FormatError as err:
                fail(f"entry '{entry}' contains invalid ID - {err.text}\n")
            if source in entries:
                fail(f"duplicate mapping for source '{source}'\n")
            entries[source] = target
        else:
            try:
                check(entry)
            except FormatError as err:
                fail(f"entry '{entry}' contains invalid ID - {err.text}\n")
            if default is not None:
                fail("default target ID can only be provided once\n")
            default = entry
    if identity and ((default is not None and truthy(default)) or entries):
        fail("identity mapping cannot be combined with other mappings\n")


def _id_pair(check: Callable[[str], None]) -> CodeFormat:
    def verify(value: str) -> None:
        try:
            _parse_idmap(value, check)
        except FormatError as err:
            fail(f"{err.text}\n")

    return verify


# --- addresses ---------------------------------------------------------------------------------

_EMAIL_USER = rf"[\w{WORD_MARK}+~-]+(?:\.[\w{WORD_MARK}+~-]+)*"
_EMAIL = PerlRe(rf"{_EMAIL_USER}@[a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)*", dollar=_Z, ascii=True)
_EMAIL_USER_ONLY = PerlRe(_EMAIL_USER, dollar=_Z, ascii=True)


def verify_dns_name(value: str) -> None:
    if not is_dns_name(value):
        fail("value does not look like a valid DNS name\n")


def verify_address(value: str) -> None:
    if not (is_ip(value) or is_dns_name(value)):
        fail(f"value does not look like a valid address: {value}\n")


def verify_email(value: str) -> None:
    if not _EMAIL(word_view(value)):
        fail("value does not look like a valid email address\n")


def verify_email_or_username(value: str) -> None:
    view = word_view(value)
    if not (_EMAIL(view) or _EMAIL_USER_ONLY(view)):
        fail("value does not look like a valid email address or user name\n")


_IPV4_CONFIG = PerlRe("dhcp|manual", dollar=_Z)
_IPV6_CONFIG = PerlRe("auto|dhcp|manual", dollar=_Z)
_VLAN = PerlRe(r"(\d+)(?:-(\d+))?", dollar=_Z)


def verify_vlan_id_or_range(value: str) -> None:
    found = _VLAN.match(value)
    if found is None:
        fail(f"invalid VLAN configuration '{value}'\n")
    start, end = found.group(1), found.group(2)
    for tag in (start, end) if end is not None and truthy(end) else (start,):
        if not 2 <= num(tag) <= 4094:
            fail(f"invalid VLAN tag '{tag}'\n")
    if end is not None and truthy(end) and num(start) >= num(end):
        fail(f"VLAN range must go from lower to higher tag '{value}'\n")


# --- misc pve-common -----------------------------------------------------------------------------

_STARTUP_PARTS = [PerlRe(body, dollar=_Z) for body in (r"(?:order=)?\d+", r"up=\d+", r"down=\d+")]
_BLANK = PerlRe(f"{S}*", dollar=_Z)


def verify_startup_order(value: str) -> None:
    # pve_parse_startup_order: undef for a false value or any unknown part
    ok = truthy(value) and all(
        _BLANK(part) or any(p(part) for p in _STARTUP_PARTS) for part in split(value, ",")
    )
    if not ok:
        fail("unable to parse startup options\n")


_TFA_SECRET = [
    PerlRe(body, dollar=_Z)
    for body in ("v2-0x[0-9a-fA-F]{16,128}", "v2-[A-Z2-7=]{16,128}", "[A-Z2-7=]{16}|[A-Fa-f0-9]{40}")
]


def verify_tfa_secret(value: str) -> None:
    if not any(p(value) for p in _TFA_SECRET):
        fail("unable to decode TFA secret\n")


def verify_calendar_event(value: str) -> None:
    error = calendar_event_error(value)
    if error is not None:
        fail(f"invalid calendar event '{value}' - {error}\n")


_CPUSET_PART = PerlRe(rf"{S}*(\d+)(?:-(\d+))?{S}*", dollar=_Z)


def verify_cpuset(value: str) -> None:
    """qemu-server ``pve_verify_cpuset`` over pve-common ``PVE::CpuSet::parse_cpuset``."""
    for part in split(value, ","):
        found = _CPUSET_PART.match(part)
        if found is None or num(found.group(2) or found.group(1)) < num(found.group(1)):
            fail("unable to parse cpuset option\n")


def _pem(check: Callable[[str], bool]) -> CodeFormat:
    return check_format(check, "not a valid PEM-formatted string.\n")


# --- other repositories ------------------------------------------------------------------------

# pve-storage ``valid_content_types('dir')`` plus the special-cased 'import'
_DIR_CONTENT = frozenset({"images", "rootdir", "vztmpl", "iso", "backup", "snippets", "none", "import"})
# ``([^.]*(?:\.?[^.]+)+)`` rewritten without nested quantifiers: no "..", not ending in "."
_DIR_OVERRIDE = PerlRe(r"([a-z]+)=(\.?[^.]+(?:\.[^.]+)*)", dollar=_DOLLAR)


def verify_dir_override(value: str) -> None:
    found = _DIR_OVERRIDE.match(value)
    if found is not None:
        content, path = found.group(1), found.group(2)
        if content not in _DIR_CONTENT:  # verify_content dies on its own
            fail(f"invalid content type '{content}'\n")
        if len(path) < 1023 and not any(len(part) >= 255 for part in split(path, "/")):
            return
    fail(f"invalid override '{value}'\n")


def verify_command_batch(value: str) -> None:
    error = command_batch_error(value)
    if error is not None:
        fail(error)


_ACME_DOMAIN = r"[a-z0-9][a-z0-9_-]*(?:\.[a-z0-9][a-z0-9_-]*)+"
_ACME_ALIAS = r"[a-z0-9_][a-z0-9_-]*(?:\.[a-z0-9_][a-z0-9_-]*)+"


FORMATS: dict[str, CodeFormat] = {
    "string": lambda value: None,
    "urlencoded": regex_format("[-%a-zA-Z0-9_.!~*'()]*", "invalid urlencoded string: {value}\n", dollar=_Z),
    "pve-configid": verify_configid,
    "pve-storage-id": verify_storage_id,
    "pve-bridge-id": verify_bridge_id,
    "pve-vmid": regex_format("[1-9][0-9]{2,8}", "value does not look like a valid VM ID\n", dollar=_Z),
    "pve-node": regex_format(DNS_LABEL, "value does not look like a valid node name\n", dollar=_Z),
    "storage-pair": _id_pair(verify_storage_id),
    "bridge-pair": _id_pair(verify_bridge_id),
    "mac-addr": regex_format(
        "[a-f0-9][02468ace](?::[a-f0-9]{2}){5}",
        "value does not look like a valid unicast MAC address\n",
        dollar=_Z,
        ignorecase=True,
    ),
    "ipv4": check_format(is_ipv4, "value does not look like a valid IPv4 address\n"),
    "ipv6": check_format(is_ipv6, "value does not look like a valid IPv6 address\n"),
    "ip": check_format(is_ip, "value does not look like a valid IP address\n"),
    "ldap-simple-attr": regex_format(
        "[a-zA-Z0-9]+", "value '{value}' does not look like a simple ldap attribute name\n", dollar=_Z
    ),
    "ipv4mask": check_format(IPV4_MASKS.__contains__, "value does not look like a valid IP netmask\n"),
    "CIDRv6": check_format(lambda v: is_cidr(v, v4=False), "value does not look like a valid IPv6 CIDR network\n"),
    "CIDRv4": check_format(lambda v: is_cidr(v, v6=False), "value does not look like a valid IPv4 CIDR network\n"),
    "CIDR": check_format(is_cidr, "value does not look like a valid CIDR network\n"),
    "pve-ipv4-config": check_format(
        lambda v: _IPV4_CONFIG(v) or is_cidr(v, v6=False),
        "value does not look like a valid ipv4 network configuration\n",
    ),
    "pve-ipv6-config": check_format(
        lambda v: _IPV6_CONFIG(v) or is_cidr(v, v4=False),
        "value does not look like a valid ipv6 network configuration\n",
    ),
    "email": verify_email,
    "email-or-username": verify_email_or_username,
    "dns-name": verify_dns_name,
    "timezone": check_format(is_timezone, "invalid time zone '{value}'\n"),
    "pve-iface": regex_format(IFACE, "invalid network interface name '{value}'\n", dollar=_Z),
    "pve-vlan-id-or-range": verify_vlan_id_or_range,
    "address": verify_address,
    "disk-size": regex_format(
        r"\d+(?:\.\d+)?(?:[KMGT](?:iB)?)?", "value does not look like a valid disk size: {value}\n", dollar=_Z
    ),
    "pve-startup-order": verify_startup_order,
    "pve-tag": regex_format(r"[a-z0-9_][a-z0-9_\-+.]*", "invalid characters in tag\n", dollar=_Z, ignorecase=True),
    "pve-tfa-secret": verify_tfa_secret,
    "pve-task-status-type": regex_format(
        "ok|error|warning|unknown", "invalid status '{value}'\n", dollar=_Z, ignorecase=True
    ),
    "pve-calendar-event": verify_calendar_event,
    "pem-certificate": _pem(is_pem_certificate),
    "pem-certificate-chain": _pem(is_pem_chain),
    "pem-string": _pem(is_pem_string),
    "pve-cpuset": verify_cpuset,
    "FullRangeCIDR": check_format(
        lambda v: is_cidr(v, min_len=0, dollar=_DOLLAR), "value does not look like a valid CIDR network\n"
    ),
    "pve-day-of-week": regex_format("mon|tue|wed|thu|fri|sat|sun", "invalid day '{value}'\n", dollar=_DOLLAR),
    "pve-command-batch": verify_command_batch,
    "pve-dir-override": verify_dir_override,
    "pve-acme-domain": regex_format(
        _ACME_DOMAIN,
        "value '{value}' does not look like a valid domain name!\n",
        dollar=_DOLLAR,
        ignorecase=True,
    ),
    "pve-acme-alias": regex_format(
        _ACME_ALIAS,
        "value '{value}' does not look like a valid alias name!\n",
        dollar=_DOLLAR,
        ignorecase=True,
    ),
    # pve-manager's own label pattern, the same as a DNS name's
    "graphite-path": regex_format(DNS_NAME, "value does not look like a valid graphite path\n", dollar=_DOLLAR),
    "mac-prefix": regex_format(
        "[a-f0-9][02468ace](?::[a-f0-9]{2}){0,2}:?",
        "value is not a valid unicast MAC address prefix\n",
        dollar=_DOLLAR,
        ignorecase=True,
    ),
}
