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

import functools
from collections.abc import Callable
from typing import NoReturn

from . import CodeFormat, FormatError
from ._batch import command_batch_error
from ._calendar import calendar_event_error
from ._net import IPV4_MASKS, is_cidr, is_ip, is_ipv4, is_ipv6
from ._pem import is_pem_chain, is_pem_string
from ._perl import WORD_MARK, PerlRe, S, num, split, split_list, truthy, word_view

_Z = False  # pve-common: m/^...\z/
_DOLLAR = True  # other repositories: m/^...$/


def _fail(text: str) -> NoReturn:
    raise FormatError(text)


def _regex(body: str, message: str, *, dollar: bool = _Z, ignorecase: bool = False) -> CodeFormat:
    pattern = PerlRe(body, dollar=dollar, ignorecase=ignorecase)

    def check(value: str) -> None:
        if not pattern(value):
            _fail(message.format(value=value))

    return check


# --- identifiers -------------------------------------------------------------------------------

_CONFIGID = PerlRe("[a-z][a-z0-9_-]+", dollar=_Z, ignorecase=True)
_ID = PerlRe(r"[a-z][a-z0-9\-_.]*[a-z0-9]", dollar=_Z, ignorecase=True)
_BRIDGE_ID = PerlRe(rf"[-_.\w{WORD_MARK}]+", dollar=_Z, ascii=True)


def verify_configid(value: str) -> None:
    if not _CONFIGID(value):
        _fail(f"invalid configuration ID '{value}'\n")


def verify_storage_id(value: str) -> None:
    if len(value) < 2:
        _fail(f"storage ID '{value}' cannot be shorter than 2 characters\n")
    if not _ID(value):
        _fail(f"storage ID '{value}' contains illegal characters\n")


def verify_bridge_id(value: str) -> None:
    if not _BRIDGE_ID(word_view(value)):
        _fail(f"invalid bridge ID '{value}'\n")


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
                _fail(f"entry '{entry}' contains invalid ID - {err.text}\n")
            if source in entries:
                _fail(f"duplicate mapping for source '{source}'\n")
            entries[source] = target
        else:
            try:
                check(entry)
            except FormatError as err:
                _fail(f"entry '{entry}' contains invalid ID - {err.text}\n")
            if default is not None:
                _fail("default target ID can only be provided once\n")
            default = entry
    if identity and ((default is not None and truthy(default)) or entries):
        _fail("identity mapping cannot be combined with other mappings\n")


def _id_pair(check: Callable[[str], None]) -> CodeFormat:
    def verify(value: str) -> None:
        try:
            _parse_idmap(value, check)
        except FormatError as err:
            _fail(f"{err.text}\n")

    return verify


# --- addresses ---------------------------------------------------------------------------------

_LABEL = "[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
_DNS_NAME = PerlRe(rf"(?:{_LABEL}\.)*{_LABEL}", dollar=_Z)
_EMAIL_USER = rf"[\w{WORD_MARK}+~-]+(?:\.[\w{WORD_MARK}+~-]+)*"
_EMAIL = PerlRe(rf"{_EMAIL_USER}@[a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)*", dollar=_Z, ascii=True)
_EMAIL_USER_ONLY = PerlRe(_EMAIL_USER, dollar=_Z, ascii=True)


def verify_dns_name(value: str) -> None:
    if not _DNS_NAME(value):
        _fail("value does not look like a valid DNS name\n")


def verify_address(value: str) -> None:
    if not (is_ip(value) or _DNS_NAME(value)):
        _fail(f"value does not look like a valid address: {value}\n")


def verify_email(value: str) -> None:
    if not _EMAIL(word_view(value)):
        _fail("value does not look like a valid email address\n")


def verify_email_or_username(value: str) -> None:
    view = word_view(value)
    if not (_EMAIL(view) or _EMAIL_USER_ONLY(view)):
        _fail("value does not look like a valid email address or user name\n")


def _simple(check: Callable[[str], bool], message: str) -> CodeFormat:
    def verify(value: str) -> None:
        if not check(value):
            _fail(message)

    return verify


_IPV4_CONFIG = PerlRe("dhcp|manual", dollar=_Z)
_IPV6_CONFIG = PerlRe("auto|dhcp|manual", dollar=_Z)
_VLAN = PerlRe(r"(\d+)(?:-(\d+))?", dollar=_Z)


def verify_vlan_id_or_range(value: str) -> None:
    found = _VLAN.match(value)
    if found is None:
        _fail(f"invalid VLAN configuration '{value}'\n")
    start, end = found.group(1), found.group(2)
    for tag in (start, end) if end is not None and truthy(end) else (start,):
        if not 2 <= num(tag) <= 4094:
            _fail(f"invalid VLAN tag '{tag}'\n")
    if end is not None and truthy(end) and num(start) >= num(end):
        _fail(f"VLAN range must go from lower to higher tag '{value}'\n")


# --- misc pve-common -----------------------------------------------------------------------------

_STARTUP_PARTS = [PerlRe(body, dollar=_Z) for body in (r"(?:order=)?\d+", r"up=\d+", r"down=\d+")]
_BLANK = PerlRe(f"{S}*", dollar=_Z)


def verify_startup_order(value: str) -> None:
    # pve_parse_startup_order: undef for a false value or any unknown part
    ok = truthy(value) and all(
        _BLANK(part) or any(p(part) for p in _STARTUP_PARTS) for part in split(value, ",")
    )
    if not ok:
        _fail("unable to parse startup options\n")


_TFA_SECRET = [
    PerlRe(body, dollar=_Z)
    for body in ("v2-0x[0-9a-fA-F]{16,128}", "v2-[A-Z2-7=]{16,128}", "[A-Z2-7=]{16}|[A-Fa-f0-9]{40}")
]


def verify_tfa_secret(value: str) -> None:
    if not any(p(value) for p in _TFA_SECRET):
        _fail("unable to decode TFA secret\n")


@functools.cache
def _zone_tab() -> tuple[str, ...]:
    """Column 3 of ``/usr/share/zoneinfo/zone.tab``, read like ``pve_verify_timezone`` does."""
    try:
        with open("/usr/share/zoneinfo/zone.tab", encoding="utf-8", errors="surrogateescape") as fh:
            text = fh.read()
    except OSError:
        return ()
    comment = PerlRe(f"{S}*#.*", dollar=True)
    lines = text.split("\n")
    if text.endswith("\n"):
        lines.pop()
    zones = []
    for line in lines:
        if comment(line):
            continue
        fields = line.split("\t")
        zones.append(fields[2] if len(fields) > 2 else "")  # undef compares equal to ''
    return tuple(zones)


def verify_timezone(value: str) -> None:
    if value != "UTC" and value not in _zone_tab():
        _fail(f"invalid time zone '{value}'\n")


def verify_calendar_event(value: str) -> None:
    error = calendar_event_error(value)
    if error is not None:
        _fail(f"invalid calendar event '{value}' - {error}\n")


_CPUSET_PART = PerlRe(rf"{S}*(\d+)(?:-(\d+))?{S}*", dollar=_Z)


def verify_cpuset(value: str) -> None:
    """qemu-server ``pve_verify_cpuset`` over pve-common ``PVE::CpuSet::parse_cpuset``."""
    for part in split(value, ","):
        found = _CPUSET_PART.match(part)
        if found is None or num(found.group(2) or found.group(1)) < num(found.group(1)):
            _fail("unable to parse cpuset option\n")


def _pem(check: Callable[[str], bool]) -> CodeFormat:
    return _simple(check, "not a valid PEM-formatted string.\n")


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
            _fail(f"invalid content type '{content}'\n")
        if len(path) < 1023 and not any(len(part) >= 255 for part in split(path, "/")):
            return
    _fail(f"invalid override '{value}'\n")


def verify_command_batch(value: str) -> None:
    error = command_batch_error(value)
    if error is not None:
        _fail(error)


_ACME_DOMAIN = r"[a-z0-9][a-z0-9_-]*(?:\.[a-z0-9][a-z0-9_-]*)+"
_ACME_ALIAS = r"[a-z0-9_][a-z0-9_-]*(?:\.[a-z0-9_][a-z0-9_-]*)+"


FORMATS: dict[str, CodeFormat] = {
    "string": lambda value: None,
    "urlencoded": _regex("[-%a-zA-Z0-9_.!~*'()]*", "invalid urlencoded string: {value}\n"),
    "pve-configid": verify_configid,
    "pve-storage-id": verify_storage_id,
    "pve-bridge-id": verify_bridge_id,
    "pve-vmid": _regex("[1-9][0-9]{2,8}", "value does not look like a valid VM ID\n"),
    "pve-node": _regex(
        "[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?", "value does not look like a valid node name\n"
    ),
    "storage-pair": _id_pair(verify_storage_id),
    "bridge-pair": _id_pair(verify_bridge_id),
    "mac-addr": _regex(
        "[a-f0-9][02468ace](?::[a-f0-9]{2}){5}",
        "value does not look like a valid unicast MAC address\n",
        ignorecase=True,
    ),
    "ipv4": _simple(is_ipv4, "value does not look like a valid IPv4 address\n"),
    "ipv6": _simple(is_ipv6, "value does not look like a valid IPv6 address\n"),
    "ip": _simple(is_ip, "value does not look like a valid IP address\n"),
    "ldap-simple-attr": _regex(
        "[a-zA-Z0-9]+", "value '{value}' does not look like a simple ldap attribute name\n"
    ),
    "ipv4mask": _simple(IPV4_MASKS.__contains__, "value does not look like a valid IP netmask\n"),
    "CIDRv6": _simple(lambda v: is_cidr(v, v4=False), "value does not look like a valid IPv6 CIDR network\n"),
    "CIDRv4": _simple(lambda v: is_cidr(v, v6=False), "value does not look like a valid IPv4 CIDR network\n"),
    "CIDR": _simple(is_cidr, "value does not look like a valid CIDR network\n"),
    "pve-ipv4-config": _simple(
        lambda v: _IPV4_CONFIG(v) or is_cidr(v, v6=False),
        "value does not look like a valid ipv4 network configuration\n",
    ),
    "pve-ipv6-config": _simple(
        lambda v: _IPV6_CONFIG(v) or is_cidr(v, v4=False),
        "value does not look like a valid ipv6 network configuration\n",
    ),
    "email": verify_email,
    "email-or-username": verify_email_or_username,
    "dns-name": verify_dns_name,
    "timezone": verify_timezone,
    "pve-iface": _regex(
        r"[a-z][a-z0-9_]{1,20}(?:[:.]\d+)?", "invalid network interface name '{value}'\n", ignorecase=True
    ),
    "pve-vlan-id-or-range": verify_vlan_id_or_range,
    "address": verify_address,
    "disk-size": _regex(
        r"\d+(?:\.\d+)?(?:[KMGT](?:iB)?)?", "value does not look like a valid disk size: {value}\n"
    ),
    "pve-startup-order": verify_startup_order,
    "pve-tag": _regex(r"[a-z0-9_][a-z0-9_\-+.]*", "invalid characters in tag\n", ignorecase=True),
    "pve-tfa-secret": verify_tfa_secret,
    "pve-task-status-type": _regex("ok|error|warning|unknown", "invalid status '{value}'\n", ignorecase=True),
    "pve-calendar-event": verify_calendar_event,
    "pem-certificate-chain": _pem(is_pem_chain),
    "pem-string": _pem(is_pem_string),
    "pve-cpuset": verify_cpuset,
    "FullRangeCIDR": _simple(
        lambda v: is_cidr(v, min_len=0, dollar=_DOLLAR), "value does not look like a valid CIDR network\n"
    ),
    "pve-day-of-week": _regex("mon|tue|wed|thu|fri|sat|sun", "invalid day '{value}'\n", dollar=_DOLLAR),
    "pve-command-batch": verify_command_batch,
    "pve-dir-override": verify_dir_override,
    "pve-acme-domain": _regex(
        _ACME_DOMAIN,
        "value '{value}' does not look like a valid domain name!\n",
        dollar=_DOLLAR,
        ignorecase=True,
    ),
    "pve-acme-alias": _regex(
        _ACME_ALIAS,
        "value '{value}' does not look like a valid alias name!\n",
        dollar=_DOLLAR,
        ignorecase=True,
    ),
    "graphite-path": _regex(
        r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?\.)*[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?",
        "value does not look like a valid graphite path\n",
        dollar=_DOLLAR,
    ),
    "mac-prefix": _regex(
        "[a-f0-9][02468ace](?::[a-f0-9]{2}){0,2}:?",
        "value is not a valid unicast MAC address prefix\n",
        dollar=_DOLLAR,
        ignorecase=True,
    ),
}
