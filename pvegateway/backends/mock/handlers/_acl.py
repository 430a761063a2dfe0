"""Mock handlers: groups, roles and ACLs (pve-access-control API2/{Group,Role,ACL}.pm)."""

from __future__ import annotations

import re
from typing import Any, Literal

from ....errors import PVEError
from ...base import Call
from ..roles import ALL_PRIVILEGES
from ..runtime import Handler, Mock
from ..state import AclEntry, Group, Role
from ._params import flag, id_list
from ._users import absent, check_token, existing, fail

# --- groups ---------------------------------------------------------------------------------------


def _members(mock: Mock, groupid: str) -> list[str]:
    return sorted(u.userid for u in mock.cluster.users.values() if groupid in u.groups)


def list_groups(mock: Mock, call: Call) -> list[dict[str, Any]]:
    identity = call.identity
    answer = []
    for groupid in sorted(mock.cluster.groups):
        if identity is not None:
            privs = mock.permissions.privileges(identity, f"/access/groups/{groupid}")
            if not privs & {"User.Modify", "Sys.Audit", "Group.Allocate"}:
                continue
        group = mock.cluster.groups[groupid]
        entry: dict[str, Any] = {"groupid": groupid}
        if group.comment:
            entry["comment"] = group.comment
        members = _members(mock, groupid)
        if members:
            entry["users"] = ",".join(members)
        answer.append(entry)
    return answer


def create_group(mock: Mock, call: Call) -> None:
    groupid = str(call.params["groupid"])
    absent(mock.cluster.groups, groupid, "group", "create group failed")
    mock.cluster.groups[groupid] = Group(groupid, str(call.params.get("comment") or ""))


def _group(mock: Mock, groupid: str, what: str = "") -> Group:
    return existing(mock.cluster.groups, groupid, "group", what)


def read_group(mock: Mock, call: Call) -> dict[str, Any]:
    groupid = str(call.params["groupid"])
    group = _group(mock, groupid)
    answer: dict[str, Any] = {"members": _members(mock, groupid)}
    if group.comment:
        answer["comment"] = group.comment
    return answer


def update_group(mock: Mock, call: Call) -> None:
    group = _group(mock, str(call.params["groupid"]), "update group failed")
    if call.params.get("comment") is not None:
        group.comment = str(call.params["comment"])


def delete_group(mock: Mock, call: Call) -> None:
    groupid = str(call.params["groupid"])
    _group(mock, groupid, "delete group failed")
    del mock.cluster.groups[groupid]
    for user in mock.cluster.users.values():
        if groupid in user.groups:
            user.groups.remove(groupid)
    for key, entry in list(mock.cluster.acl.items()):
        if entry.kind == "group" and entry.ugid == groupid:
            del mock.cluster.acl[key]


# --- roles ----------------------------------------------------------------------------------------


def _privs(value: Any, what: str) -> set[str]:
    privs = set(id_list(value))
    for priv in sorted(privs):
        if priv not in ALL_PRIVILEGES:
            raise fail(f"{what}: invalid privilege '{priv}'")
    return privs


def list_roles(mock: Mock, call: Call) -> list[dict[str, Any]]:
    answer = []
    for roleid in sorted(mock.cluster.roles):
        role = mock.cluster.roles[roleid]
        answer.append({"roleid": roleid, "privs": ",".join(sorted(role.privs)), "special": int(role.special)})
    return answer


def create_role(mock: Mock, call: Call) -> None:
    roleid = str(call.params["roleid"])
    what = "create role failed"
    absent(mock.cluster.roles, roleid, "role", what)
    mock.cluster.roles[roleid] = Role(roleid, frozenset(_privs(call.params.get("privs"), what)))


def _role(mock: Mock, roleid: str, what: str = "") -> Role:
    return existing(mock.cluster.roles, roleid, "role", what)


def read_role(mock: Mock, call: Call) -> dict[str, Any]:
    return {priv: 1 for priv in sorted(_role(mock, str(call.params["roleid"])).privs)}


def update_role(mock: Mock, call: Call) -> None:
    roleid = str(call.params["roleid"])
    what = "update role failed"
    special = mock.cluster.roles.get(roleid)
    if special is not None and special.special:  # pve-access-control src/PVE/API2/Role.pm:145, before the lock
        raise fail(f"auto-generated role '{roleid}' cannot be modified")
    role = _role(mock, roleid, what)
    privs = _privs(call.params.get("privs"), what)
    role.privs = frozenset((role.privs | privs) if flag(call.params.get("append")) else privs)


def delete_role(mock: Mock, call: Call) -> None:
    roleid = str(call.params["roleid"])
    what = "delete role failed"
    special = mock.cluster.roles.get(roleid)
    if special is not None and special.special:  # Role.pm:222, before the lock
        raise fail(f"auto-generated role '{roleid}' cannot be deleted")
    _role(mock, roleid, what)
    del mock.cluster.roles[roleid]
    for key, entry in list(mock.cluster.acl.items()):
        if entry.roleid == roleid:
            del mock.cluster.acl[key]


# --- ACL ------------------------------------------------------------------------------------------

_PATH = re.compile(r"^/[\w\-.:/@]*$")
_NAME = r"[A-Za-z0-9._-]+"
# the paths an ACL may name: pve-access-control src/PVE/AccessControl.pm:1281-1319 check_path
_ACL_PATHS = re.compile(
    rf"/|/access|/access/groups|/access/groups/{_NAME}|/access/realm|/access/realm/{_NAME}|/nodes|/nodes/{_NAME}"
    rf"|/pool|/pool/[A-Za-z0-9._-]+(?:/[A-Za-z0-9._-]+){{0,2}}|/sdn|/sdn/controllers|/sdn/controllers/[A-Za-z0-9_-]+"
    r"|/sdn/dns|/sdn/dns/[A-Za-z0-9]+|/sdn/fabrics|/sdn/fabrics/[A-Za-z0-9]+|/sdn/ipams|/sdn/ipams/[A-Za-z0-9]+"
    r"|/sdn/prefix-lists|/sdn/prefix-lists/[A-Za-z0-9]+|/sdn/route-maps|/sdn/route-maps/[A-Za-z0-9]+"
    rf"|/sdn/zones|/sdn/zones/{_NAME}|/sdn/zones/{_NAME}/{_NAME}|/sdn/zones/{_NAME}/{_NAME}/[1-9][0-9]{{0,3}}"
    rf"|/storage|/storage/{_NAME}|/vms|/vms/[1-9][0-9]{{2,}}|/mapping|/mapping/{_NAME}|/mapping/{_NAME}/{_NAME}")


def normalize_path(path: str) -> str | None:
    """PVE's normalize_path: one leading '/', no doubled or trailing slashes."""
    path = "/" + "/".join(p for p in path.split("/") if p)
    return path if _PATH.match(path) else None


def list_acl(mock: Mock, call: Call) -> list[dict[str, Any]]:
    identity = call.identity
    perms = mock.permissions
    audit = perms.check(identity, "/access", ["Sys.Audit"], noerr=True)  # ACL.pm:74-85
    answer = []
    for entry in sorted(mock.cluster.acl.values(), key=lambda e: (e.path, e.kind, e.ugid, e.roleid)):
        if not (audit or perms.check_perm_modify(identity, entry.path, noerr=True)):
            continue
        answer.append({"path": entry.path, "type": entry.kind, "ugid": entry.ugid, "roleid": entry.roleid,
                       "propagate": int(entry.propagate)})
    return answer


def update_acl(mock: Mock, call: Call) -> None:
    params = call.params
    cluster = mock.cluster
    what = "ACL update failed"
    if not (params.get("users") or params.get("groups") or params.get("tokens")):  # ACL.pm:153-157
        raise PVEError.params(dict.fromkeys(("users", "groups", "tokens"),
                                            "either 'users', 'groups' or 'tokens' is required."))
    delete = flag(params.get("delete"))
    path = normalize_path(str(params["path"]))
    if path is None or (not delete and not _ACL_PATHS.fullmatch(path)):  # ACL.pm:159-166: a parameter error
        raise PVEError.params({"path": f"invalid ACL path '{params['path']}'"})
    propagate = flag(params.get("propagate", "1"))
    roles = id_list(params.get("roles"))
    subjects: list[tuple[Literal["user", "group", "token"], str]] = []
    for group in id_list(params.get("groups")):
        if group not in cluster.groups and not delete:
            raise fail(f"{what}: group '{group}' does not exist")
        subjects.append(("group", group))
    for userid in id_list(params.get("users")):
        if userid not in cluster.users and not delete:
            raise fail(f"{what}: user '{userid}' does not exist")
        subjects.append(("user", userid))
    for tokenid in id_list(params.get("tokens")):
        userid, _, name = tokenid.partition("!")
        if not delete:
            check_token(cluster, userid, name, what)
        subjects.append(("token", tokenid))
    for roleid in roles:
        if roleid not in cluster.roles:
            raise fail(f"{what}: role '{roleid}' does not exist")
    for roleid in roles:
        for kind, ugid in subjects:
            key = (path, ugid, roleid)
            if delete:
                entry = cluster.acl.get(key)
                if entry is not None and entry.kind == kind:
                    del cluster.acl[key]
            else:
                cluster.acl[key] = AclEntry(path, ugid, kind, roleid, propagate)


ROUTES: dict[tuple[str, str], Handler] = {
    ("GET", "/access/groups"): list_groups,
    ("POST", "/access/groups"): create_group,
    ("GET", "/access/groups/{groupid}"): read_group,
    ("PUT", "/access/groups/{groupid}"): update_group,
    ("DELETE", "/access/groups/{groupid}"): delete_group,
    ("GET", "/access/roles"): list_roles,
    ("POST", "/access/roles"): create_role,
    ("GET", "/access/roles/{roleid}"): read_role,
    ("PUT", "/access/roles/{roleid}"): update_role,
    ("DELETE", "/access/roles/{roleid}"): delete_role,
    ("GET", "/access/acl"): list_acl,
    ("PUT", "/access/acl"): update_acl,
}
