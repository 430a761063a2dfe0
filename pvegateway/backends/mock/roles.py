"""PVE's privileges and built-in roles (pve-access-control AccessControl.pm ``$privgroups``, PVE 9).

The privilege list is the one apidoc 9.2 publishes (``GET /access/roles/{roleid}``): 47 privileges.
``create_roles`` makes ``PVE<cat>Admin`` (admin+user+audit), ``PVE<cat>User`` (user+audit, only when the
category has user privileges), ``PVEAdmin`` (every category's admin+user+audit), ``PVEAuditor`` (every
audit tier), ``PVETemplateUser``, ``Administrator`` (everything) and ``NoAccess`` (nothing).
"""

from __future__ import annotations

from collections.abc import Mapping

# category -> tier -> privileges; built-in roles are unions of tiers, as PVE builds them
PRIVGROUPS: Mapping[str, Mapping[str, tuple[str, ...]]] = {
    "VM": {
        "root": (),
        "admin": ("VM.Config.Disk", "VM.Config.CPU", "VM.Config.Memory", "VM.Config.Network",
                  "VM.Config.HWType", "VM.Config.Options", "VM.Allocate", "VM.Clone", "VM.Migrate",
                  "VM.Replicate", "VM.Snapshot", "VM.Snapshot.Rollback", "VM.GuestAgent.FileRead",
                  "VM.GuestAgent.FileWrite", "VM.GuestAgent.FileSystemMgmt", "VM.GuestAgent.Unrestricted"),
        "user": ("VM.Config.CDROM", "VM.Config.Cloudinit", "VM.Console", "VM.Backup", "VM.PowerMgmt"),
        "audit": ("VM.Audit", "VM.GuestAgent.Audit"),
    },
    "Sys": {
        "root": ("Sys.PowerMgmt", "Sys.Modify"),
        "admin": ("Sys.Console", "Sys.Syslog"),
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
        "user": ("Pool.Audit",),
        "audit": ("Pool.Audit",),
    },
    "Mapping": {
        "root": (),
        "admin": ("Mapping.Modify",),
        "user": ("Mapping.Use",),
        "audit": ("Mapping.Audit",),
    },
}

# privileges in no group: only Administrator (and root@pam) hold them
UNGROUPED = ("Permissions.Modify", "Sys.Incoming", "Sys.AccessNetwork")

ALL_PRIVILEGES = frozenset(
    [p for tiers in PRIVGROUPS.values() for privs in tiers.values() for p in privs] + list(UNGROUPED)
)


def _tiers(category: str, *tiers: str) -> set[str]:
    return {p for tier in tiers for p in PRIVGROUPS[category][tier]}


def builtin_roles() -> dict[str, frozenset[str]]:
    roles: dict[str, frozenset[str]] = {
        "Administrator": ALL_PRIVILEGES,
        "NoAccess": frozenset(),
        "PVEAuditor": frozenset(p for c in PRIVGROUPS for p in _tiers(c, "audit")),
        "PVEAdmin": frozenset(p for c in PRIVGROUPS for p in _tiers(c, "admin", "user", "audit")),
    }
    for category in PRIVGROUPS:
        roles[f"PVE{category}Admin"] = frozenset(_tiers(category, "admin", "user", "audit"))
        if PRIVGROUPS[category]["user"]:
            roles[f"PVE{category}User"] = frozenset(_tiers(category, "user", "audit"))
    roles["PVETemplateUser"] = frozenset({"VM.Clone", "VM.Audit"})
    return dict(sorted(roles.items()))
