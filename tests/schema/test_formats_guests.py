"""qemu-server and pve-container code formats: accepted values and PVE's exact die texts."""

from __future__ import annotations

import pytest

from pvegateway.schema.formats import FormatError
from pvegateway.schema.formats.guests import FORMATS
from tests.schema.format_cases import value_tests


def test_registers_bare_names_only() -> None:
    assert set(FORMATS) == {
        "lxc-ip-with-ll-iface",
        "pve-ct-timezone",
        "pve-hotplug-features",
        "pve-phys-bits",
        "pve-qm-bootdisk",
        "pve-qm-bootdev",
    }


VALID = [
    # golden corpus
    ("pve-hotplug-features", "disk,cloudinit"),
    ("lxc-ip-with-ll-iface", "9.9.9.9"),
    ("lxc-ip-with-ll-iface", "1.1.1.1"),
    # from the sources
    ("pve-qm-bootdisk", "ide0"),
    ("pve-qm-bootdisk", "scsi30"),
    ("pve-qm-bootdisk", "virtio15"),
    ("pve-qm-bootdisk", "sata5"),
    ("pve-qm-bootdisk", "efidisk0"),
    ("pve-qm-bootdisk", "tpmstate0"),
    ("pve-hotplug-features", "0"),
    ("pve-hotplug-features", "1"),
    ("pve-hotplug-features", ""),
    ("pve-hotplug-features", "network;disk usb,,cpu memory"),
    ("pve-phys-bits", "host"),
    ("pve-phys-bits", "8"),
    ("pve-phys-bits", "64"),
    ("pve-phys-bits", "08"),
    ("pve-phys-bits", "40\n"),  # Perl's $ before a trailing newline, then int()
    ("pve-ct-timezone", "host"),
    ("pve-ct-timezone", "UTC"),
    ("pve-ct-timezone", "Europe/Vienna"),
    ("pve-ct-timezone", "America/Argentina/Buenos_Aires"),
    ("lxc-ip-with-ll-iface", "fe80::1%eth0"),
    ("lxc-ip-with-ll-iface", "fe80::1%vmbr0.10\n"),
    ("lxc-ip-with-ll-iface", "2001:db8::53"),
]


_PHYS_BITS = "value must be an integer between 8 and 64 or 'host'\n"
_NO_IP = "value does not look like a valid IP address\n"


INVALID = [
    # golden corpus
    ("pve-qm-bootdisk", "ide", "invalid boot disk 'ide'\n"),
    ("pve-hotplug-features", "disk,pci", "invalid hotplug feature 'pci'\n"),
    ("lxc-ip-with-ll-iface", "resolver.lab", _NO_IP),
    # from the sources
    ("pve-qm-bootdisk", "ide4", "invalid boot disk 'ide4'\n"),
    ("pve-qm-bootdisk", "unused0", "invalid boot disk 'unused0'\n"),
    ("pve-qm-bootdisk", "scsi0\n", "invalid boot disk 'scsi0\n'\n"),
    ("pve-hotplug-features", "Disk", "invalid hotplug feature 'Disk'\n"),
    ("pve-hotplug-features", "2", "invalid hotplug feature '2'\n"),
    ("pve-hotplug-features", "\0disk", "invalid hotplug feature ''\n"),
    ("pve-phys-bits", "7", _PHYS_BITS),
    ("pve-phys-bits", "65", _PHYS_BITS),
    ("pve-phys-bits", "100", _PHYS_BITS),
    ("pve-phys-bits", "Host", _PHYS_BITS),
    ("pve-phys-bits", "\u0661\u0662", _PHYS_BITS),  # Unicode digits match \d but int() is 0
    ("pve-ct-timezone", "Not/AZone", "invalid time zone 'Not/AZone'\n"),
    ("pve-ct-timezone", "utc", "invalid time zone 'utc'\n"),
    ("pve-ct-timezone", "GMT", "invalid time zone 'GMT'\n"),  # not in zone.tab
    ("pve-ct-timezone", "", "invalid time zone ''\n"),
    ("lxc-ip-with-ll-iface", "fe80::1%e", _NO_IP),
    ("lxc-ip-with-ll-iface", "fe80::1%", _NO_IP),
    ("lxc-ip-with-ll-iface", "2001:db8::1%eth0", _NO_IP),
    ("lxc-ip-with-ll-iface", "10.0.0.1/24", _NO_IP),
]


test_valid_values_pass, test_invalid_values_fail_with_pve_text = value_tests(FORMATS, VALID, INVALID)


@pytest.mark.parametrize("value", ["scsi0", "ide2", "virtio15", "sata5", "net31", "usb13", "hostpci15"])
def test_boot_device_accepts_drives_nics_usb_and_pci(value: str) -> None:
    assert FORMATS["pve-qm-bootdev"](value) == value


@pytest.mark.parametrize("value", ["efidisk0", "tpmstate0", "unused0", "net32", "scsi31", "cdrom"])
def test_boot_device_rejects_others(value: str) -> None:
    with pytest.raises(FormatError) as err:
        FORMATS["pve-qm-bootdev"](value)
    assert err.value.text == f"invalid boot device '{value}'\n"
