"""Named non-QEMU property-string formats, plus the two LXC path code formats.

Sources (read, not copied): pve-storage ``src/PVE/Storage/Plugin.pm`` (prune-backups and its
validator), pve-guest-common ``src/PVE/VZDump/Common.pm`` (backup-fleecing, backup-performance),
pve-access-control ``src/PVE/Auth/Plugin.pm`` (realm-sync-options, pve-tfa-config), pve-common
``src/PVE/JSONSchema.pm`` (proxmox-remote), pve-network ``SubnetPlugin.pm`` (dhcp range) and
pve-container ``src/PVE/LXC/Config.pm`` (``verify_lxc_mp_string``, ``verify_lxc_dev_string``).
Keys are listed in source order.
"""

from __future__ import annotations

import re
from typing import Any

from ..perl import truthy
from . import CodeFormat, FormatError, HashValidator
from ._perl import num


def _keep(what: str) -> dict[str, Any]:
    return {"type": "integer", "minimum": 0, "optional": 1, "format_description": "N",
            "description": f"Keep backups of the last <N> {what}."}  # fmt: skip


MISC_HASH_FORMATS: dict[str, dict[str, dict[str, Any]]] = {
    "prune-backups": {
        "keep-all": {"type": "boolean", "optional": 1,
                     "description": "Keep every backup; conflicts with the other options."},
        "keep-last": {"type": "integer", "minimum": 0, "optional": 1, "format_description": "N",
                      "description": "Keep the <N> newest backups."},
        "keep-hourly": _keep("hours"),
        "keep-daily": _keep("days"),
        "keep-weekly": _keep("weeks"),
        "keep-monthly": _keep("months"),
        "keep-yearly": _keep("years"),
    },
    "backup-fleecing": {
        "enabled": {"type": "boolean", "default": 0, "optional": 1, "default_key": 1,
                    "description": "Use fleecing images during VM backups."},
        "storage": {"type": "string", "format": "pve-storage-id", "optional": 1,
                    "format_description": "storage ID", "description": "Storage for fleecing images."},
    },
    "backup-performance": {
        "max-workers": {"type": "integer", "minimum": 1, "maximum": 256, "default": 16, "optional": 1,
                        "description": "Parallel IO workers for VM backups."},
        "pbs-entries-max": {"type": "integer", "minimum": 1, "default": 1048576, "optional": 1,
                            "description": "In-memory entry limit for container backups to PBS."},
    },
    "realm-sync-options": {
        "scope": {"type": "string", "enum": ["users", "groups", "both"], "optional": 1,
                  "description": "What to synchronise."},
        "remove-vanished": {
            "type": "string", "default": "none", "optional": 1,
            "typetext": "([acl];[properties];[entry])|none",
            "pattern": "(?:(?:(?:acl|properties|entry);)*(?:acl|properties|entry))|none",
            "description": "What to remove for vanished users/groups, ';'-separated, or 'none'.",
        },
        "full": {"type": "boolean", "optional": 1, "description": "Deprecated, see remove-vanished."},
        "enable-new": {"type": "boolean", "default": 1, "optional": 1,
                       "description": "Enable newly synchronised users."},
        "purge": {"type": "boolean", "optional": 1, "description": "Deprecated, see remove-vanished."},
    },
    "pve-tfa-config": {
        "type": {"type": "string", "enum": ["yubico", "oath"], "format_description": "TFATYPE",
                 "description": "Second factor type."},
        "id": {"type": "string", "optional": 1, "format_description": "ID", "description": "Yubico API ID."},
        "key": {"type": "string", "optional": 1, "format_description": "KEY",
                "description": "Yubico API key."},
        "url": {"type": "string", "optional": 1, "format_description": "URL",
                "description": "Yubico API URL."},
        "digits": {"type": "integer", "minimum": 6, "maximum": 8, "default": 6, "optional": 1,
                   "format_description": "COUNT", "description": "TOTP digit count."},
        "step": {"type": "integer", "minimum": 10, "default": 30, "optional": 1,
                 "format_description": "SECONDS", "description": "TOTP period in seconds."},
    },
    "proxmox-remote": {
        "host": {"type": "string", "format_description": "ADDRESS",
                 "description": "Host name or IP of the remote."},
        "port": {"type": "integer", "optional": 1, "format_description": "PORT",
                 "description": "Remote API port."},
        "apitoken": {"type": "string", "format_description": "PVEAPIToken=user@realm!token=SECRET",
                     "description": "Complete API token including its secret."},
        "fingerprint": {"type": "string", "optional": 1, "format_description": "FINGERPRINT",
                        "pattern": "([A-Fa-f0-9]{2}:){31}[A-Fa-f0-9]{2}",
                        "description": "Expected SHA-256 certificate fingerprint."},
    },
    # The source declares both keys with the non-JSON type 'ip', which PVE's check_type lets
    # through unchecked (the corpus accepts 'end-address=10.7.0.300'). For a scalar that is the
    # same as an unconstrained 'string', which is what is written here.
    "pve-sdn-dhcp-range": {
        "start-address": {"type": "string", "description": "First address of the DHCP range."},
        "end-address": {"type": "string", "description": "Last address of the DHCP range."},
    },
    # pve-network SDN/Fabrics.pm
    "pve-sdn-fabric-wireguard-interface": {
        "name": {"type": "string", "format": "pve-sdn-wireguard-iface-name",
                 "description": "Name of the network interface."},
        "public_key": {"type": "string", "optional": 1, "description": "Public key of this interface."},
        "ip": {"type": "string", "format": "CIDRv4", "optional": 1, "description": "IPv4 address."},
        "ip6": {"type": "string", "format": "CIDRv6", "optional": 1, "description": "IPv6 address."},
        "listen_port": {"type": "number", "optional": 1, "minimum": 1, "maximum": 65535,
                        "description": "Port to listen on for WireGuard traffic."},
    },
}  # fmt: skip


def validate_prune_backups(prune: dict[str, Any]) -> object:
    """pve-storage ``validate_prune_backups``: keep-all excludes any other positive keep-*."""
    rest = {k: v for k, v in prune.items() if k != "keep-all"}
    if not any(v is not None and num(v) > 0 for v in rest.values()):
        return {"keep-all": 1}
    if truthy(prune.get("keep-all")):
        raise FormatError("keep-all cannot be set together with other options.\n")
    return rest


MISC_HASH_VALIDATORS: dict[str, HashValidator] = {
    "prune-backups": validate_prune_backups,
}


# --- code formats -----------------------------------------------------------------------------


def verify_lxc_mp_string(mp: str) -> str:
    """Reject '/./', '/../', a trailing '/.' or '/..', and a leading '../'."""
    if re.search(r"/\.\.?/", mp) or re.search(r"/\.\.?$", mp) or re.search(r"^\.\./", mp):
        raise FormatError(f"{mp} contains illegal character sequences\n")
    return mp


def verify_lxc_dev_string(dev: str) -> str:
    """Reject '/./' and '/../' segments (also at the end) and paths outside /dev/."""
    if re.search(r"/\.\.?(?:/|$)", dev) or not re.search(r"^/dev/", dev):
        raise FormatError(f"{dev} is not a valid device path\n")
    return dev


MISC_CODE_FORMATS: dict[str, CodeFormat] = {
    "pve-lxc-mp-string": verify_lxc_mp_string,
    "pve-lxc-dev-string": verify_lxc_dev_string,
}
