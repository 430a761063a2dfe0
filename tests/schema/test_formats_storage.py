"""pve-storage code formats: accepted values and PVE's exact die texts."""

from __future__ import annotations

from pvegateway.schema.formats.storage import FORMATS
from tests.schema.format_cases import value_tests


def test_registers_bare_names_only() -> None:
    assert set(FORMATS) == {
        "pve-storage-content",
        "pve-storage-options",
        "pve-storage-path",
        "pve-storage-path-in-property-string",
        "pve-storage-portal-dns",
        "pve-storage-server",
        "pve-storage-vgname",
        "pve-storage-zfs-blocksize",
        "pve-volume-id",
        "pve-volume-id-or-absolute-path",
        "pve-volume-id-or-qm-path",
    }


VALID = [
    # golden corpus
    ("pve-storage-content", "vztmpl"),
    ("pve-storage-content", "backup"),
    ("pve-storage-content", "iso"),
    ("pve-storage-content", "images"),
    ("pve-storage-content", "rootdir"),
    ("pve-storage-content", "import"),
    ("pve-storage-content", "none"),
    ("pve-storage-content", "snippets"),
    ("pve-storage-server", "nfs.lab.example"),
    ("pve-storage-server", "10.0.0.9"),
    ("pve-storage-server", "pbs.lab"),
    ("pve-storage-server", "2001:db8::10"),
    ("pve-storage-portal-dns", "192.168.20.5:99999"),
    ("pve-storage-portal-dns", "san1.lab"),
    ("pve-storage-portal-dns", "[2001:db8::5]:3260"),
    ("pve-storage-portal-dns", "2001:db8::5.3260"),
    ("pve-storage-path", "/mnt/d2"),
    ("pve-storage-path", "/export/pve"),
    ("pve-storage-path", "/a;b"),  # only the first character after '/' is checked
    ("pve-storage-path-in-property-string", "/srv/share"),
    ("pve-storage-vgname", "vg9"),
    ("pve-storage-vgname", "Data.VG-1_x"),
    ("pve-storage-vgname", "vg9\n"),  # Perl's $ before a trailing newline
    ("pve-storage-options", "vers=4.2,soft"),
    ("pve-storage-zfs-blocksize", "16k"),
    ("pve-storage-zfs-blocksize", "512"),
    ("pve-storage-zfs-blocksize", "1m"),
    ("pve-storage-zfs-blocksize", "16M"),
    ("pve-volume-id", "local-zfs:subvol-2300-disk-9"),
    ("pve-volume-id", "nas01:iso/alpine-3.20.iso"),
    ("pve-volume-id-or-absolute-path", "nas01:import/noble-server-cloudimg-amd64.img"),
    ("pve-volume-id-or-absolute-path", "/var/tmp/disk.qcow2"),
    ("pve-volume-id-or-qm-path", "local-zfs:1"),
    ("pve-volume-id-or-qm-path", "local-zfs:cloudinit"),
    ("pve-volume-id-or-qm-path", "local-lvm:8"),
    ("pve-volume-id-or-qm-path", "none"),
    ("pve-volume-id-or-qm-path", "cdrom"),
    ("pve-volume-id-or-qm-path", "/dev/sdb"),
]


_NO_SERVER = "value does not look like a valid server name or IP address\n"
_BAD_PATH = (
    "Value does not look like a valid absolute path. These symbols are currently not allowed in path: ;,=()\n"
)


def _bad_blocksize(value: str) -> str:
    return (
        f"value '{value}' is not a valid ZFS blocksize. Must be a power of 2 between 512B and 16MiB"
        " (e.g., 4k, 8k, 16k, 64k, 1m).\n"
    )


INVALID = [
    # golden corpus
    ("pve-storage-content", "images,iso", "invalid content type 'images,iso'\n"),
    ("pve-storage-content", "image", "invalid content type 'image'\n"),
    ("pve-storage-content", "backups", "invalid content type 'backups'\n"),
    ("pve-storage-server", "nfs_server.lab", _NO_SERVER),
    ("pve-storage-portal-dns", "san_1.lab:3260", "value does not look like a valid portal address\n"),
    ("pve-storage-path-in-property-string", "srv/share", _BAD_PATH),
    ("pve-storage-zfs-blocksize", "12k", _bad_blocksize("12k")),
    # from the sources
    ("pve-storage-content", "iso\n", "invalid content type 'iso\n'\n"),
    ("pve-storage-server", "0", _NO_SERVER),
    ("pve-storage-server", "nas.\n", _NO_SERVER),
    ("pve-storage-portal-dns", "host:port", "value does not look like a valid portal address\n"),
    ("pve-storage-path", "relative", "value does not look like a valid absolute path\n"),
    ("pve-storage-path", "/", "value does not look like a valid absolute path\n"),
    ("pve-storage-path", "/(x)", "value does not look like a valid absolute path\n"),
    ("pve-storage-path-in-property-string", "/,a", _BAD_PATH),
    ("pve-storage-vgname", "vg-", "lvm name 'vg-' contains illegal characters\n"),
    ("pve-storage-vgname", "v", "lvm name 'v' contains illegal characters\n"),
    ("pve-storage-options", "soft hard", "invalid options 'soft hard'\n"),
    ("pve-storage-options", "", "invalid options ''\n"),
    ("pve-storage-zfs-blocksize", "256", _bad_blocksize("256")),
    ("pve-storage-zfs-blocksize", "32m", _bad_blocksize("32m")),
    ("pve-volume-id", "local", "unable to parse volume ID 'local'\n"),
    ("pve-volume-id", "l:disk", "unable to parse volume ID 'l:disk'\n"),
    ("pve-volume-id", "local-:disk", "unable to parse volume ID 'local-:disk'\n"),
    ("pve-volume-id-or-absolute-path", "disk.qcow2", "unable to parse volume ID 'disk.qcow2'\n"),
    ("pve-volume-id-or-qm-path", "cdrom2", "unable to parse volume ID 'cdrom2'\n"),
    ("pve-volume-id-or-qm-path", "none\n", "unable to parse volume ID 'none\n'\n"),
]


test_valid_values_pass, test_invalid_values_fail_with_pve_text = value_tests(FORMATS, VALID, INVALID)
