"""Named QEMU property-string formats (qemu-server), as PVE 9.2 registers them.

Sources (read, not copied): qemu-server ``src/PVE/QemuServer.pm`` (watchdog, cicustom, boot,
smbios1), ``QemuServer/Network.pm`` (ipconfig), ``QemuServer/CPUConfig.pm`` and ``CPUFlags.pm``
(cpu, SEV, TDX), ``QemuServer/PCI.pm`` (hostpci), ``QemuServer/RNG.pm`` (rng) and
``QemuServer/Drive.pm`` (``pve-qm-ide``). Keys are listed in source order.

Patterns built with ``qr//`` in the sources are written the way Perl stringifies them (and the
apidoc shows them), e.g. ``(?^:...)``; plain string patterns are written as they are.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from ..perl import perl_str, truthy
from . import FormatError, HashValidator
from ._perl import lazy_re

# --------------------------------------------------------------------------------------------
# pve-vm-cpu-conf

# Keys of get_all_cpu_models() on a PVE 9.2 node (x86_64 and aarch64 models plus the host
# model), sorted case-insensitively as the 'reported-model' enum shows them in the 9.2 apidoc.
CPU_MODELS_9_2: tuple[str, ...] = (
    "486", "a64fx", "athlon", "Broadwell", "Broadwell-IBRS", "Broadwell-noTSX",
    "Broadwell-noTSX-IBRS", "Cascadelake-Server", "Cascadelake-Server-noTSX",
    "Cascadelake-Server-v2", "Cascadelake-Server-v4", "Cascadelake-Server-v5",
    "ClearwaterForest", "ClearwaterForest-v2", "ClearwaterForest-v3", "Conroe", "Cooperlake",
    "Cooperlake-v2", "core2duo", "coreduo", "cortex-a35", "cortex-a53", "cortex-a55",
    "cortex-a57", "cortex-a710", "cortex-a72", "cortex-a76", "cortex-a78ae", "DiamondRapids",
    "EPYC", "EPYC-Genoa", "EPYC-Genoa-v2", "EPYC-IBPB", "EPYC-Milan", "EPYC-Milan-v2",
    "EPYC-Milan-v3", "EPYC-Rome", "EPYC-Rome-v2", "EPYC-Rome-v3", "EPYC-Rome-v4", "EPYC-Rome-v5",
    "EPYC-Turin", "EPYC-v3", "EPYC-v4", "EPYC-v5", "GraniteRapids", "GraniteRapids-v2",
    "GraniteRapids-v3", "GraniteRapids-v4", "GraniteRapids-v5", "Haswell", "Haswell-IBRS",
    "Haswell-noTSX", "Haswell-noTSX-IBRS", "host", "Icelake-Client", "Icelake-Client-noTSX",
    "Icelake-Server", "Icelake-Server-noTSX", "Icelake-Server-v3", "Icelake-Server-v4",
    "Icelake-Server-v5", "Icelake-Server-v6", "Icelake-Server-v7", "IvyBridge", "IvyBridge-IBRS",
    "KnightsMill", "kvm32", "kvm64", "max", "Nehalem", "Nehalem-IBRS", "neoverse-n1",
    "neoverse-n2", "neoverse-v1", "Opteron_G1", "Opteron_G2", "Opteron_G3", "Opteron_G4",
    "Opteron_G5", "Penryn", "pentium", "pentium2", "pentium3", "phenom", "qemu32", "qemu64",
    "SandyBridge", "SandyBridge-IBRS", "SapphireRapids", "SapphireRapids-v2", "SapphireRapids-v3",
    "SapphireRapids-v4", "SapphireRapids-v5", "SapphireRapids-v6", "SierraForest",
    "SierraForest-v2", "SierraForest-v3", "SierraForest-v4", "SierraForest-v5", "Skylake-Client",
    "Skylake-Client-IBRS", "Skylake-Client-noTSX-IBRS", "Skylake-Client-v4", "Skylake-Server",
    "Skylake-Server-IBRS", "Skylake-Server-noTSX-IBRS", "Skylake-Server-v4", "Skylake-Server-v5",
    "Westmere", "Westmere-IBRS",
)  # fmt: skip

# PVE-internal abstract models ($builtin_models_by_arch, x86_64): accepted as VM cputype.
BUILTIN_CPU_MODELS: tuple[str, ...] = ("x86-64-v2", "x86-64-v2-AES", "x86-64-v3", "x86-64-v4")

# VM-specific CPU flags (CPUFlags.pm), sorted like supported_cpu_flags_names() in 9.2.
VM_CPU_FLAGS: tuple[str, ...] = (
    "aes", "amd-no-ssb", "amd-ssbd", "hv-evmcs", "hv-tlbflush", "ibpb", "md-clear",
    "nested-virt", "pcid", "pdpe1gb", "spec-ctrl", "ssbd", "virt-ssbd",
)  # fmt: skip

_CPU_FLAG_ANY = r"(?^u:([+-])([a-zA-Z0-9\-_\.]+))"

_CPU_FMT: dict[str, dict[str, Any]] = {
    "cputype": {
        "type": "string", "default": "kvm64", "default_key": 1, "optional": 1,
        "format_description": "string",
        "description": "CPU model; custom models carry the 'custom-' prefix.",
    },
    "reported-model": {
        "type": "string", "enum": list(CPU_MODELS_9_2), "default": "kvm64", "optional": 1,
        "description": "Model/vendor shown to the guest (custom model definitions only).",
    },
    "hidden": {
        "type": "boolean", "optional": 1, "default": 0,
        "description": "Hide the KVM signature from the guest (x86-64 only).",
    },
    "hv-vendor-id": {
        "type": "string", "pattern": r"(?^u:[a-zA-Z0-9]{1,12})", "optional": 1,
        "format_description": "vendor-id", "description": "Hyper-V vendor ID reported to Windows.",
    },
    "flags": {
        "type": "string", "pattern": f"(?^u:{_CPU_FLAG_ANY}(;{_CPU_FLAG_ANY})*)", "optional": 1,
        "format_description": "+FLAG[;-FLAG...]",
        "description": "';'-separated CPU flags, '+FLAG' enables, '-FLAG' disables.",
    },
    "guest-phys-bits": {
        "type": "integer", "minimum": 32, "maximum": 64, "optional": 1,
        "description": "Physical address bits usable by the guest.",
    },
    "phys-bits": {
        "type": "string", "format": "pve-phys-bits", "optional": 1, "format_description": "8-64|host",
        "description": "Physical address bits reported to the guest, or 'host'.",
    },
    "level": {
        "type": "integer", "minimum": 0, "maximum": 4294967295, "optional": 1,
        "description": "Highest basic CPUID leaf visible to the guest (x86_64 only).",
    },
}  # fmt: skip

_custom_cpu_models: frozenset[str] | None = None


def set_custom_cpu_models(names: Iterable[str] | None) -> None:
    """Tell the cpu validator which custom models exist (section ids, without 'custom-').

    ``None`` (the default) means "unknown": any ``custom-*`` cputype is accepted, because the
    gateway cannot read ``/etc/pve/virtual-guest/cpu-models.conf``.
    """
    global _custom_cpu_models
    _custom_cpu_models = None if names is None else frozenset(names)


_CPU_FLAG_SUPPORTED = "([+-])(" + "|".join(re.escape(f) for f in VM_CPU_FLAGS) + ")"
_VM_FLAGS_RE = lazy_re(f"^{_CPU_FLAG_SUPPORTED}(;{_CPU_FLAG_SUPPORTED})*$")
_ALL_CPU_MODELS = frozenset(CPU_MODELS_9_2) | frozenset(BUILTIN_CPU_MODELS)


def validate_vm_cpu_conf(cpu: dict[str, Any]) -> object:
    """CPUConfig.pm ``validate_vm_cpu_conf`` (which first runs ``validate_cpu_conf``)."""
    if not truthy(cpu.get("cputype")):
        raise FormatError("CPU is missing cputype\n")
    cputype = perl_str(cpu["cputype"])
    if cputype.startswith("custom-"):
        name = cputype[len("custom-") :]
        if _custom_cpu_models is not None and name not in _custom_cpu_models:
            raise FormatError(f"Custom cputype '{name}' not found\n")
    elif cputype not in _ALL_CPU_MODELS:
        raise FormatError(f"Built-in cputype '{cputype}' is not defined (missing 'custom-' prefix?)\n")
    flags = cpu.get("flags")
    if truthy(flags) and not _VM_FLAGS_RE.search(perl_str(flags)):
        raise FormatError("VM-specific CPU flags must be a subset of: " + ", ".join(VM_CPU_FLAGS) + "\n")
    if cpu.get("reported-model") is not None:
        raise FormatError("Property 'reported-model' not allowed in VM-specific CPU config.\n")
    return cpu


# --------------------------------------------------------------------------------------------
# pve-qm-ide ($ide_fmt = %drivedesc_base, %model_fmt, %ssd_fmt, %wwn_fmt)


def _throttle(typ: str, what: str, unit: str, minimum: int | None = None) -> dict[str, Any]:
    sub: dict[str, Any] = {"type": typ, "optional": 1, "format_description": unit,
                           "description": f"Limit for {what}."}  # fmt: skip
    if minimum is not None:
        sub["minimum"] = minimum
    return sub


_IDE_FMT: dict[str, dict[str, Any]] = {
    "volume": {"alias": "file"},
    "file": {
        "type": "string", "format": "pve-volume-id-or-qm-path", "default_key": 1,
        "format_description": "volume", "description": "Backing volume of the drive.",
    },
    "media": {"type": "string", "enum": ["cdrom", "disk"], "default": "disk", "optional": 1,
              "description": "Media type."},
    "snapshot": {"type": "boolean", "optional": 1, "description": "Use QEMU snapshot mode."},
    "cache": {"type": "string", "enum": ["none", "writethrough", "writeback", "unsafe", "directsync"],
              "optional": 1, "description": "Cache mode."},
    "format": {"type": "string", "enum": ["raw", "qcow", "qed", "qcow2", "vmdk", "cloop"],
               "optional": 1, "description": "Image format of the backing file."},
    "size": {"type": "string", "format": "disk-size", "optional": 1, "format_description": "DiskSize",
             "description": "Informational disk size."},
    "backup": {"type": "boolean", "optional": 1, "description": "Include the drive in backups."},
    "replicate": {"type": "boolean", "optional": 1, "default": 1,
                  "description": "Include the drive in replication."},
    "rerror": {"type": "string", "enum": ["ignore", "report", "stop"], "optional": 1,
               "description": "Action on read errors."},
    "werror": {"type": "string", "enum": ["enospc", "ignore", "report", "stop"], "optional": 1,
               "description": "Action on write errors."},
    "aio": {"type": "string", "enum": ["native", "threads", "io_uring"], "optional": 1,
            "description": "Asynchronous IO backend."},
    "discard": {"type": "string", "enum": ["ignore", "on"], "optional": 1,
                "description": "Pass discard/trim to the storage."},
    "detect_zeroes": {"type": "boolean", "optional": 1, "description": "Optimise zero writes."},
    "serial": {"type": "string", "format": "urlencoded", "maxLength": 60, "optional": 1,
               "format_description": "serial", "description": "Url-encoded drive serial."},
    "shared": {"type": "boolean", "optional": 1, "default": 0,
               "description": "Local volume is available on all nodes."},
    "bps": _throttle("integer", "r/w bytes per second", "bps"),
    "bps_rd": _throttle("integer", "read bytes per second", "bps"),
    "bps_wr": _throttle("integer", "write bytes per second", "bps"),
    "mbps": _throttle("number", "r/w MB per second", "mbps"),
    "mbps_rd": _throttle("number", "read MB per second", "mbps"),
    "mbps_wr": _throttle("number", "write MB per second", "mbps"),
    "iops": _throttle("integer", "r/w operations per second", "iops"),
    "iops_rd": _throttle("integer", "read operations per second", "iops"),
    "iops_wr": _throttle("integer", "write operations per second", "iops"),
    "mbps_max": _throttle("number", "unthrottled r/w pool (MB/s)", "mbps"),
    "mbps_rd_max": _throttle("number", "unthrottled read pool (MB/s)", "mbps"),
    "mbps_wr_max": _throttle("number", "unthrottled write pool (MB/s)", "mbps"),
    "iops_max": _throttle("integer", "unthrottled r/w IO pool", "iops"),
    "iops_rd_max": _throttle("integer", "unthrottled read IO pool", "iops"),
    "iops_wr_max": _throttle("integer", "unthrottled write IO pool", "iops"),
    "bps_max_length": _throttle("integer", "burst length in seconds", "seconds", 1),
    "bps_rd_max_length": _throttle("integer", "read burst length in seconds", "seconds", 1),
    "bps_wr_max_length": _throttle("integer", "write burst length in seconds", "seconds", 1),
    "iops_max_length": _throttle("integer", "IO burst length in seconds", "seconds", 1),
    "iops_rd_max_length": _throttle("integer", "read IO burst length in seconds", "seconds", 1),
    "iops_wr_max_length": _throttle("integer", "write IO burst length in seconds", "seconds", 1),
    "bps_rd_length": {"alias": "bps_rd_max_length"},
    "bps_wr_length": {"alias": "bps_wr_max_length"},
    "iops_rd_length": {"alias": "iops_rd_max_length"},
    "iops_wr_length": {"alias": "iops_wr_max_length"},
    "model": {"type": "string", "format": "urlencoded", "maxLength": 120, "optional": 1,
              "format_description": "model", "description": "Url-encoded drive model name."},
    "ssd": {"type": "boolean", "optional": 1, "description": "Present the drive as an SSD."},
    "wwn": {"type": "string", "pattern": r"(?^:^(0x)[0-9a-fA-F]{16})", "optional": 1,
            "format_description": "wwn", "description": "World wide name, '0x' plus 16 hex digits."},
}  # fmt: skip

# --------------------------------------------------------------------------------------------

_PCIRE = r"(?^:(?:[a-f0-9]{4,}:)?[a-f0-9]{2}:[a-f0-9]{2}(?:\.[a-f0-9])?)"
_HEX_ID = r"(?^:^0x[0-9a-fA-F]{4}$)"
_B64 = r"[A-Za-z0-9+\/]+={0,2}"


def _hex_id(what: str) -> dict[str, Any]:
    return {"type": "string", "pattern": _HEX_ID, "optional": 1, "format_description": "hex id",
            "description": f"Override the {what} seen by the guest."}  # fmt: skip


def _smbios_b64(what: str) -> dict[str, Any]:
    return {"type": "string", "pattern": _B64, "optional": 1,
            "format_description": "Base64 encoded string", "description": f"SMBIOS1 {what}."}  # fmt: skip


def _cloudinit_file(what: str) -> dict[str, Any]:
    return {"type": "string", "format": "pve-volume-id", "optional": 1,
            "format_description": "volume", "description": f"Custom cloud-init {what} file."}  # fmt: skip


QEMU_HASH_FORMATS: dict[str, dict[str, dict[str, Any]]] = {
    "pve-qm-ipconfig": {
        "ip": {"type": "string", "format": "pve-ipv4-config", "optional": 1, "default": "dhcp",
               "format_description": "IPv4Format/CIDR", "description": "IPv4 address (CIDR)."},
        "gw": {"type": "string", "format": "ipv4", "optional": 1, "requires": "ip",
               "format_description": "GatewayIPv4", "description": "IPv4 default gateway."},
        "ip6": {"type": "string", "format": "pve-ipv6-config", "optional": 1, "default": "dhcp",
                "format_description": "IPv6Format/CIDR", "description": "IPv6 address (CIDR)."},
        "gw6": {"type": "string", "format": "ipv6", "optional": 1, "requires": "ip6",
                "format_description": "GatewayIPv6", "description": "IPv6 default gateway."},
    },
    "pve-vm-cpu-conf": _CPU_FMT,
    "pve-qm-boot": {
        "legacy": {"type": "string", "optional": 1, "default_key": 1, "pattern": "[acdn]{1,4}",
                   "default": "cdn", "format_description": "[acdn]{1,4}",
                   "description": "Deprecated boot letters (floppy, disk, cdrom, network)."},
        "order": {"type": "string", "format": "pve-qm-bootdev-list", "optional": 1,
                  "format_description": "device[;device...]", "description": "Boot device order."},
    },
    "pve-qm-hostpci": {
        "host": {"type": "string", "default_key": 1, "optional": 1,
                 "pattern": f"(?^:{_PCIRE}(;{_PCIRE})*)",
                 "format_description": "HOSTPCIID[;HOSTPCIID2...]",
                 "description": "Host PCI ID(s); this or 'mapping' is needed."},
        "mapping": {"type": "string", "format": "pve-configid", "optional": 1,
                    "format_description": "mapping-id", "description": "Cluster-wide PCI mapping ID."},
        "rombar": {"type": "boolean", "optional": 1, "default": 1,
                   "description": "Expose the device ROM to the guest."},
        "romfile": {"type": "string", "pattern": "[^,;]+", "optional": 1, "format_description": "string",
                    "description": "Custom ROM file below /usr/share/kvm/."},
        "pcie": {"type": "boolean", "optional": 1, "default": 0, "description": "Use the PCIe bus (q35)."},
        "x-vga": {"type": "boolean", "optional": 1, "default": 0, "description": "vfio-vga support."},
        "legacy-igd": {"type": "boolean", "optional": 1, "default": 0,
                       "description": "Pass through in legacy IGD mode."},
        "mdev": {"type": "string", "pattern": r"[^/\.:]+", "optional": 1, "format_description": "string",
                 "description": "Mediated device type."},
        "vendor-id": _hex_id("PCI vendor ID"),
        "device-id": _hex_id("PCI device ID"),
        "sub-vendor-id": _hex_id("PCI subsystem vendor ID"),
        "sub-device-id": _hex_id("PCI subsystem device ID"),
        "driver": {"type": "string", "enum": ["vfio", "keep"], "default": "vfio", "optional": 1,
                   "description": "'keep' leaves the host driver bound and skips the reset."},
    },
    "pve-qm-rng": {
        "source": {"type": "string", "enum": ["/dev/urandom", "/dev/random", "/dev/hwrng"],
                   "default_key": 1, "description": "Host entropy source."},
        "max_bytes": {"type": "integer", "optional": 1, "default": 1024,
                      "description": "Entropy bytes allowed per period (0: unlimited)."},
        "period": {"type": "integer", "optional": 1, "default": 1000,
                   "description": "Quota period in milliseconds."},
    },
    "pve-qm-smbios1": {
        "uuid": {"type": "string", "pattern": "[a-fA-F0-9]{8}(?:-[a-fA-F0-9]{4}){3}-[a-fA-F0-9]{12}",
                 "optional": 1, "format_description": "UUID", "description": "SMBIOS1 UUID."},
        "version": _smbios_b64("version"),
        "serial": _smbios_b64("serial number"),
        "manufacturer": _smbios_b64("manufacturer"),
        "product": _smbios_b64("product"),
        "sku": _smbios_b64("SKU"),
        "family": _smbios_b64("family"),
        "base64": {"type": "boolean", "optional": 1, "description": "Values are base64 encoded."},
    },
    "pve-qm-watchdog": {
        "model": {"type": "string", "enum": ["i6300esb", "ib700"], "default_key": 1,
                  "default": "i6300esb", "optional": 1, "description": "Emulated watchdog model."},
        "action": {"type": "string", "enum": ["reset", "shutdown", "poweroff", "pause", "debug", "none"],
                   "optional": 1, "description": "What to do when the guest stops polling."},
    },
    "pve-qm-cicustom": {
        "meta": _cloudinit_file("meta-data"),
        "network": _cloudinit_file("network-config"),
        "user": _cloudinit_file("user-data"),
        "vendor": _cloudinit_file("vendor-data"),
    },
    "pve-qemu-sev-fmt": {
        "type": {"type": "string", "enum": ["std", "es", "snp"], "default_key": 1, "maxLength": 3,
                 "format_description": "sev-type", "description": "SEV variant."},
        "no-debug": {"type": "boolean", "default": 0, "optional": 1,
                     "description": "Policy bit: forbid guest debugging."},
        "no-key-sharing": {"type": "boolean", "default": 0, "optional": 1,
                           "description": "Policy bit: forbid key sharing (not for SNP)."},
        "allow-smt": {"type": "boolean", "default": 1, "optional": 1,
                      "description": "Policy bit: allow SMT (SNP only)."},
        "kernel-hashes": {"type": "boolean", "default": 0, "optional": 1,
                          "description": "Add kernel hashes for measured boot."},
    },
    "pve-qemu-tdx-fmt": {
        "type": {"type": "string", "enum": ["tdx"], "default_key": 1, "format_description": "tdx-type",
                 "description": "Enable TDX."},
        "attestation": {"type": "boolean", "default": 1,
                        "description": "Add the quote-generation socket for attestation."},
        "vsock-cid": {"type": "integer", "minimum": 2, "default": 2, "optional": 1,
                      "description": "Quote service vsock CID."},
        "vsock-port": {"type": "integer", "minimum": 0, "default": 4050, "optional": 1,
                       "description": "Quote service vsock port."},
    },
    "pve-qm-ide": _IDE_FMT,
}  # fmt: skip

QEMU_HASH_VALIDATORS: dict[str, HashValidator] = {
    "pve-vm-cpu-conf": validate_vm_cpu_conf,
}
