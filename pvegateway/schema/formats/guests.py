"""Code formats registered by qemu-server and pve-container."""

from __future__ import annotations

from . import CodeFormat, FormatError
from ._net import is_iface, is_ip
from ._perl import lazy_re, num, split_list
from ._zonetab import is_timezone

# qemu-server: every drive key except unusedN (ide 0-3, scsi 0-30, virtio 0-15, sata 0-5).
_BOOT_DISKS = frozenset(
    [f"ide{i}" for i in range(4)]
    + [f"scsi{i}" for i in range(31)]
    + [f"virtio{i}" for i in range(16)]
    + [f"sata{i}" for i in range(6)]
    + ["efidisk0", "tpmstate0"]
)
# qemu-server verify_bootdev: a drive (not efidisk, tpmstate or unused), a NIC, a USB or a PCI device.
_BOOT_DEVICES = frozenset(
    [d for d in _BOOT_DISKS if not d.startswith(("efidisk", "tpmstate"))]
    + [f"net{i}" for i in range(32)]
    + [f"usb{i}" for i in range(14)]
    + [f"hostpci{i}" for i in range(16)]
)
_HOTPLUG_FEATURE_RE = lazy_re(r"^(network|disk|cpu|memory|usb|cloudinit)$")
_HOTPLUG_DEFAULT = "network,disk,usb"
_PHYS_BITS_RE = lazy_re(r"^(host|\d{1,2})$")
_DIGITS_RE = lazy_re(r"^\d+$")
_LINK_LOCAL_RE = lazy_re(r"^(fe80:[^%]+)%(.*)$")


def verify_bootdisk(value: str) -> str:
    if value not in _BOOT_DISKS:
        raise FormatError(f"invalid boot disk '{value}'\n")
    return value


def verify_bootdev(value: str) -> str:
    if value not in _BOOT_DEVICES:
        raise FormatError(f"invalid boot device '{value}'\n")
    return value


def verify_hotplug_features(value: str) -> str:
    """pve-hotplug-features: ``0``, ``1`` (the default set) or a list of feature names."""
    if value == "0":
        return value
    for feature in split_list(_HOTPLUG_DEFAULT if value == "1" else value):
        if not _HOTPLUG_FEATURE_RE.match(feature):
            raise FormatError(f"invalid hotplug feature '{feature}'\n")
    return value


def verify_phys_bits(value: str) -> str:
    """pve-phys-bits: ``host`` or an integer from 8 to 64 (Perl ``int()`` of the digits)."""
    if not _PHYS_BITS_RE.match(value) or (_DIGITS_RE.match(value) and not 8 <= int(num(value)) <= 64):
        raise FormatError("value must be an integer between 8 and 64 or 'host'\n")
    return value


def verify_ct_timezone(value: str) -> str:
    """pve-ct-timezone: ``host``, else ``pve_verify_timezone`` (``UTC`` or a zone listed in zone.tab)."""
    if value == "host" or is_timezone(value):
        return value
    raise FormatError(f"invalid time zone '{value}'\n")


def verify_ip_with_ll_iface(value: str) -> str:
    """lxc-ip-with-ll-iface: an IP address, or a link-local IPv6 address with ``%IFACE``."""
    link_local = _LINK_LOCAL_RE.match(value)
    if link_local and is_ip(link_local.group(1)) and is_iface(link_local.group(2)):
        return value
    if not is_ip(value):
        raise FormatError("value does not look like a valid IP address\n")
    return value


FORMATS: dict[str, CodeFormat] = {
    "lxc-ip-with-ll-iface": verify_ip_with_ll_iface,
    "pve-ct-timezone": verify_ct_timezone,
    "pve-hotplug-features": verify_hotplug_features,
    "pve-phys-bits": verify_phys_bits,
    "pve-qm-bootdisk": verify_bootdisk,
    "pve-qm-bootdev": verify_bootdev,
}
