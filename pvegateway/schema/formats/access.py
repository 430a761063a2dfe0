"""Code formats of pve-access-control (``src/PVE/Auth/Plugin.pm``, ``src/PVE/AccessControl.pm``).

pve-access-control's HEAD anchors its patterns with ``\\z``, so a trailing newline is rejected.
"""

from __future__ import annotations

from ..perl import truthy
from . import CodeFormat
from ._perl import PerlRe, S, fail, split

_Z = False  # m/^...\z/

_REALM = "[A-Za-z][A-Za-z0-9.\\-_]+"
_USER = rf"(?:(?!{S})[^:/])+"  # [^\s:/]+
_NAME_CHARS = "[A-Za-z0-9.\\-_]+"

_REALM_RE = PerlRe(_REALM, dollar=_Z)
_USERID_RE = PerlRe(f"{_USER}@{_REALM}", dollar=_Z)
_TOKENID_RE = PerlRe(f"{_USER}@{_REALM}!{_REALM}", dollar=_Z)
_NAME_RE = PerlRe(_NAME_CHARS, dollar=_Z)
_POOL_RE = PerlRe(f"{_NAME_CHARS}(?:/{_NAME_CHARS}){{0,2}}", dollar=_Z)

# $privgroups of PVE 9 (every privilege named in the 9.2 API schema); Permissions.Modify is
# added outside the groups.
PRIVILEGES = frozenset(
    {
        "VM.Allocate", "VM.Audit", "VM.Backup", "VM.Clone", "VM.Config.CDROM", "VM.Config.CPU",
        "VM.Config.Cloudinit", "VM.Config.Disk", "VM.Config.HWType", "VM.Config.Memory",
        "VM.Config.Network", "VM.Config.Options", "VM.Console", "VM.GuestAgent.Audit",
        "VM.GuestAgent.FileRead", "VM.GuestAgent.FileSystemMgmt", "VM.GuestAgent.FileWrite",
        "VM.GuestAgent.Unrestricted", "VM.Migrate", "VM.PowerMgmt", "VM.Replicate", "VM.Snapshot",
        "VM.Snapshot.Rollback",
        "Sys.AccessNetwork", "Sys.Audit", "Sys.Console", "Sys.Incoming", "Sys.Modify",
        "Sys.PowerMgmt", "Sys.Syslog",
        "Datastore.Allocate", "Datastore.AllocateSpace", "Datastore.AllocateTemplate",
        "Datastore.Audit",
        "SDN.Allocate", "SDN.Audit", "SDN.Use",
        "Realm.Allocate", "Realm.AllocateUser", "User.Modify", "Group.Allocate",
        "Pool.Allocate", "Pool.Audit",
        "Mapping.Audit", "Mapping.Modify", "Mapping.Use",
        "Permissions.Modify",
    }
)  # fmt: skip


def verify_userid(value: str) -> None:
    """``PVE::Auth::Plugin::verify_username``."""
    name = value if truthy(value) else ""  # $username = '' if !$username
    if len(name) < 3:
        fail(f"user name '{name}' is too short\n")
    if len(name) > 64:
        fail(f"user name '{name}' is too long ({len(name)} > 64)\n")
    if not _USERID_RE(name):
        fail(f"value '{name}' does not look like a valid user name\n")


def verify_realm(value: str) -> None:
    if not _REALM_RE(value):
        fail("value does not look like a valid realm\n")


def verify_tokenid(value: str) -> None:
    if not _TOKENID_RE(value):
        fail(f"value '{value}' does not look like a valid token ID\n")


def verify_groupid(value: str) -> None:
    if not _NAME_RE(value):
        fail(f"group name '{value}' contains invalid characters\n")


def verify_roleid(value: str) -> None:
    if not _NAME_RE(value):
        fail(f"role name '{value}' contains invalid characters\n")


def verify_poolid(value: str) -> None:
    # split("/", $poolname) in scalar context: the field count without trailing empty fields
    if len(split(value, "/")) > 3:
        fail(f"pool name '{value}' nested too deeply (max levels = 3)\n")
    if not _POOL_RE(value):
        fail(f"pool name '{value}' contains invalid characters\n")


def verify_priv(value: str) -> None:
    if value not in PRIVILEGES:
        fail(f"invalid privilege '{value}'\n")


FORMATS: dict[str, CodeFormat] = {
    "pve-userid": verify_userid,
    "pve-realm": verify_realm,
    "pve-tokenid": verify_tokenid,
    "pve-groupid": verify_groupid,
    "pve-roleid": verify_roleid,
    "pve-poolid": verify_poolid,
    "pve-priv": verify_priv,
}
