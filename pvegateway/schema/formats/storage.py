"""Code formats registered by pve-storage (``src/PVE/Storage/Plugin.pm`` and plugins).

Also here: ``pve-storage-path-in-property-string`` (pve-guest-common's directory mappings) and
the volume-or-path formats of qemu-server, which wrap ``pve-volume-id``.
"""

from __future__ import annotations

from . import CodeFormat, FormatError
from ._net import IPV4RE, IPV6RE, is_dns_name, is_ip
from ._perl import NS, lazy_re

# Perl's /i on [a-z] also matches LONG S and KELVIN SIGN.
_I = "\u017f\u212a"

_PATH_RE = lazy_re(r"/[^;()]")
_PATH_IN_PROPERTY_STRING_RE = lazy_re(r"/[^;,=()]")
_VGNAME_RE = lazy_re(rf"^[a-zA-Z0-9{_I}][a-zA-Z0-9\-_.{_I}]*[a-zA-Z0-9{_I}]$")
_OPTIONS_RE = lazy_re(rf"^{NS}+$")
_VOLUME_ID_RE = lazy_re(rf"^[a-zA-Z{_I}][a-zA-Z0-9\-_.{_I}]*[a-zA-Z0-9{_I}]:(.+)$")

# PVE::Tools::parse_host_and_port; [[:alnum:]] is approximated by Python's [^\W_].
_ALNUM_HOST = r"(?:[^\W_]|[\-.])+"
_HOST_PORT_RES = (
    lazy_re(rf"^(?:{IPV4RE}|{_ALNUM_HOST})(?::\d+)?$"),
    lazy_re(rf"^\[(?:{IPV6RE}|{IPV4RE}|{_ALNUM_HOST})\](?::\d+)?$"),
    lazy_re(rf"^(?:{IPV6RE})(?:\.\d+)?$"),
)

# DirPlugin's content types ("dir includes all other types"), plus 'import' accepted explicitly.
_CONTENT_TYPES = frozenset(("images", "rootdir", "vztmpl", "iso", "backup", "snippets", "none", "import"))

# ZFS block sizes: 512 bytes .. 16 MiB, a power of two.
_BLOCKSIZE_RE = lazy_re(r"^([0-9]+)([kKmM])?$")
_BLOCKSIZE_UNITS = {"": 1, "k": 1024, "m": 1024 * 1024}


def verify_path(value: str) -> str:
    """pve-storage-path: an absolute path (only its first character after '/' is checked)."""
    if not _PATH_RE.match(value):
        raise FormatError("value does not look like a valid absolute path\n")
    return value


def verify_path_in_property_string(value: str) -> str:
    """pve-storage-path-in-property-string (pve-guest-common ``PVE::Mapping::Dir``)."""
    if not _PATH_IN_PROPERTY_STRING_RE.match(value):
        raise FormatError(
            "Value does not look like a valid absolute path."
            " These symbols are currently not allowed in path: ;,=()\n"
        )
    return value


def verify_server(value: str) -> str:
    # The Perl verifiers return the value itself, so "0" counts as a failure.
    if value == "0" or not (is_ip(value) or is_dns_name(value)):
        raise FormatError("value does not look like a valid server name or IP address\n")
    return value


def verify_vgname(value: str) -> str:
    if not _VGNAME_RE.match(value):
        raise FormatError(f"lvm name '{value}' contains illegal characters\n")
    return value


def verify_portal_dns(value: str) -> str:
    if not any(pattern.match(value) for pattern in _HOST_PORT_RES):
        raise FormatError("value does not look like a valid portal address\n")
    return value


def verify_content(value: str) -> str:
    if value not in _CONTENT_TYPES:
        raise FormatError(f"invalid content type '{value}'\n")
    return value


def verify_options(value: str) -> str:
    if not _OPTIONS_RE.match(value):
        raise FormatError(f"invalid options '{value}'\n")
    return value


def verify_zfs_blocksize(value: str) -> str:
    """pve-storage-zfs-blocksize ("a power of 2 with optional k or m suffix").

    Reconstructed from PVE 9.2's error text; the Perl source was not available.
    """
    found = _BLOCKSIZE_RE.match(value)
    digits = found.group(1).lstrip("0") if found else ""
    if found and len(digits) <= 9:  # longer is too big, and int() refuses 4300+ digits (zeros too)
        size = int(digits or "0") * _BLOCKSIZE_UNITS[(found.group(2) or "").lower()]
        if 512 <= size <= 16 * 1024 * 1024 and size & (size - 1) == 0:
            return value
    raise FormatError(
        f"value '{value}' is not a valid ZFS blocksize. Must be a power of 2 between 512B and 16MiB"
        " (e.g., 4k, 8k, 16k, 64k, 1m).\n"
    )


def parse_volume_id(value: str) -> str:
    """pve-volume-id: ``STORAGE:VOLNAME``."""
    if not _VOLUME_ID_RE.match(value):
        raise FormatError(f"unable to parse volume ID '{value}'\n")
    return value


def verify_volume_id_or_absolute_path(value: str) -> str:
    if value.startswith("/"):
        return value
    return parse_volume_id(value)


def verify_volume_id_or_qm_path(value: str) -> str:
    if value in ("none", "cdrom"):
        return value
    return verify_volume_id_or_absolute_path(value)


FORMATS: dict[str, CodeFormat] = {
    "pve-storage-content": verify_content,
    "pve-storage-options": verify_options,
    "pve-storage-path": verify_path,
    "pve-storage-path-in-property-string": verify_path_in_property_string,
    "pve-storage-portal-dns": verify_portal_dns,
    "pve-storage-server": verify_server,
    "pve-storage-vgname": verify_vgname,
    "pve-storage-zfs-blocksize": verify_zfs_blocksize,
    "pve-volume-id": parse_volume_id,
    "pve-volume-id-or-absolute-path": verify_volume_id_or_absolute_path,
    "pve-volume-id-or-qm-path": verify_volume_id_or_qm_path,
}
