"""PVE's privileges and built-in roles (pve-access-control AccessControl.pm ``$privgroups``)."""

from __future__ import annotations

from collections.abc import Mapping

# category -> tier -> privileges; built-in roles are unions of tiers, as PVE builds them
PRIVGROUPS: Mapping[str, Mapping[str, tuple[str, ...]]] = {
    "VM": {
        "root": (),
        "admin": ("VM.Config.Disk", "VM.Config.CPU", "VM.Config.Memory", "VM.Config.Network",
                  "VM.Config.HWType", "VM.Config.Options", "VM.Allocate", "VM.Clone", "VM.Migrate",
                  "VM.Snapshot", "VM.Snapshot.Rollback", "VM.GuestAgent.Audit", "VM.GuestAgent.FileRead",
                  "VM.GuestAgent.FileWrite", "VM.GuestAgent.FileSystemMgmt", "VM.GuestAgent.Unrestricted"),
        "user": ("VM.Config.CDROM", "VM.Config.Cloudinit", "VM.Console", "VM.Backup", "VM.PowerMgmt"),
        "audit": ("VM.Audit",),
    },
    "Sys": {
        "root": ("Sys.PowerMgmt", "Sys.Modify"),
        "admin": ("Permissions.Modify", "Sys.Console", "Sys.Syslog", "Sys.Incoming", "Sys.AccessNetwork"),
        "user": (),
        "audit": ("Sys.Audit",),
    },
    "Datastore": {
        "root": (),
        "admin": ("Datastore.Allocate", "Datastore.AllocateTemplate"),
        "user": ("Datastore.AllocateSpace",),
        "audit": ("Datastore.Audit",),
    },
    "SDN": {
        "root": (),
        "admin": ("SDN.Allocate",),
        "user": ("SDN.Use",),
        "audit": ("SDN.Audit",),
    },
    "User": {
        "root": ("Realm.Allocate",),
        "admin": ("User.Modify", "Group.Allocate", "Realm.AllocateUser"),
        "user": (),
        "audit": (),
    },
    "Pool": {
        "root": (),
        "admin": ("Pool.Allocate",),
        "user": (),
        "audit": ("Pool.Audit",),
    },
    "Mapping": {
        "root": (),
        "admin": ("Mapping.Modify",),
        "user": ("Mapping.Use",),
        "audit": ("Mapping.Audit",),
    },
}

ALL_PRIVILEGES = frozenset(p for tiers in PRIVGROUPS.values() for privs in tiers.values() for p in privs)


def _tiers(category: str, *tiers: str) -> set[str]:
    return {p for tier in tiers for p in PRIVGROUPS[category][tier]}


def builtin_roles() -> dict[str, frozenset[str]]:
    roles: dict[str, frozenset[str]] = {
        "Administrator": ALL_PRIVILEGES,
        "NoAccess": frozenset(),
        "PVEAuditor": frozenset(p for c in PRIVGROUPS for p in _tiers(c, "audit")),
        "PVEAdmin": frozenset(p for c in PRIVGROUPS for p in _tiers(c, "admin", "user", "audit")),
    }
    names = {"VM": "VM", "Sys": "Sys", "Datastore": "Datastore", "SDN": "SDN", "User": "User",
             "Pool": "Pool", "Mapping": "Mapping"}
    for category, name in names.items():
        roles[f"PVE{name}Admin"] = frozenset(_tiers(category, "admin", "user", "audit"))
        user = _tiers(category, "user", "audit")
        if user:
            roles[f"PVE{name}User"] = frozenset(user)
    roles["PVETemplateUser"] = frozenset({"VM.Clone", "VM.Audit"})
    roles["PVEPoolUser"] = frozenset({"Pool.Audit"})
    return roles
