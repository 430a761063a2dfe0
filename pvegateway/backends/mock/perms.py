"""Permission checks as PVE's RPCEnvironment does them: ACL inheritance, roles, privsep tokens.

ACL semantics: walking from ``/`` down to the checked path, entries on a deeper path replace what was
inherited; at one path, user entries win over group entries; entries without ``propagate`` apply
only to their exact path; ``NoAccess`` grants nothing. ``root@pam`` has every privilege. A token with
``privsep`` gets the intersection of its own ACLs and its user's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ...apidoc.operation import Operation
from ...errors import PVEError
from ..base import Identity
from .roles import ALL_PRIVILEGES
from .state import Cluster

ROOT = "root@pam"


def fail(detail: str | None = None) -> PVEError:
    return PVEError(403, f"Permission check failed ({detail})\n" if detail else "Permission check failed\n")


class Permissions:
    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster

    def _roles_for(self, ugids: Sequence[tuple[str, str]], path: str) -> set[str] | None:
        """Roles that apply at ``path`` for the given (kind, id) subjects; None when nothing is set."""
        parts = [p for p in path.split("/") if p]
        chain = ["/"] + ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]
        current: set[str] | None = None
        for depth, prefix in enumerate(chain):
            exact = depth == len(chain) - 1
            user_roles: set[str] = set()
            group_roles: set[str] = set()
            found_user = found_group = False
            for (_path, ugid, roleid), entry in self._acl_at(prefix):
                if not (entry.propagate or exact):
                    continue
                for kind, subject in ugids:
                    if ugid == subject and entry.kind == kind:
                        if kind == "group":
                            found_group = True
                            group_roles.add(roleid)
                        else:
                            found_user = True
                            user_roles.add(roleid)
            if found_user:
                current = user_roles
            elif found_group:
                current = group_roles
        return current

    def _acl_at(self, path: str) -> list[tuple[tuple[str, str, str], Any]]:
        return [(key, entry) for key, entry in self.cluster.acl.items() if key[0] == path]

    def _privs_from_roles(self, roles: set[str] | None) -> set[str]:
        if not roles or "NoAccess" in roles:
            return set()
        privs: set[str] = set()
        for roleid in roles:
            role = self.cluster.roles.get(roleid)
            if role is not None:
                privs |= role.privs
        return privs

    def _subject_privs(self, subjects: Sequence[tuple[str, str]], path: str) -> set[str]:
        roles = self._roles_for(subjects, path)
        privs = self._privs_from_roles(roles)
        if roles and "NoAccess" in roles:
            return privs
        # members of a pool also get what is granted on /pool/<pool> (RPCEnvironment compile_acl_path)
        for pool in self._pools_of(path):
            privs |= self._privs_from_roles(self._roles_for(subjects, f"/pool/{pool}"))
        return privs

    def _pools_of(self, path: str) -> list[str]:
        parts = [p for p in path.split("/") if p]
        if len(parts) != 2:
            return []
        if parts[0] == "vms" and parts[1].isdigit():
            return [p.poolid for p in self.cluster.pools.values() if int(parts[1]) in p.vmids]
        if parts[0] == "storage":
            return [p.poolid for p in self.cluster.pools.values() if parts[1] in p.storages]
        return []

    def privileges(self, identity: Identity, path: str) -> set[str]:
        userid = identity.userid
        if userid == ROOT and identity.tokenid is None:
            return set(ALL_PRIVILEGES)
        user = self.cluster.users.get(userid)
        if user is None:
            return set()
        subjects = [("user", userid)] + [("group", g) for g in user.groups]
        user_privs = set(ALL_PRIVILEGES) if userid == ROOT else self._subject_privs(subjects, path)
        if identity.tokenid is None:
            return user_privs
        token = user.tokens.get(identity.tokenid)
        if token is None:
            return set()
        if not token.privsep:
            return user_privs
        return user_privs & self._subject_privs([("token", identity.authid)], path)

    # --- PVE's check expressions (``permissions.check`` of an operation) ---------------------------

    def authorize(self, op: Operation, identity: Identity | None, params: Mapping[str, Any]) -> None:
        permissions = op.permissions
        if identity is None:
            return  # an open route
        if identity.tokenid and not op.allowtoken:
            uri = op.path
            for name in op.path_params:
                uri = uri.replace("{" + name + "}", str(params.get(name, "")))
            raise fail(f"URI '{uri}' not available with API token, need proper ticket.\n")
        if not permissions:
            if identity.userid != ROOT or identity.tokenid:
                raise fail("user != root@pam")
            return
        if identity.userid == ROOT and not identity.tokenid:
            return  # check_api2_permissions: root@pam passes every check
        if permissions.get("user") in ("all", "world") and not permissions.get("check"):
            return
        check = permissions.get("check")
        if check:
            self.check(check, identity, params)

    def check(self, expr: Sequence[Any], identity: Identity, params: Mapping[str, Any]) -> None:
        kind = expr[0]
        if kind == "and":
            for sub in expr[1:]:
                self.check(sub, identity, params)
        elif kind == "or":
            for sub in expr[1:]:
                try:
                    self.check(sub, identity, params)
                    return
                except PVEError:
                    continue
            raise fail()
        elif kind == "perm":
            self._perm(expr, identity, params)
        elif kind == "perm-modify":
            path = self._path(str(expr[1]), params)
            if "Permissions.Modify" not in self.privileges(identity, path):
                raise fail(f"{path}, Permissions.Modify")
        elif kind == "userid-group":
            self._userid_group(expr, identity, params)
        elif kind == "userid-param":
            self._userid_param(expr, identity, params)
        else:
            raise fail()

    def _perm(self, expr: Sequence[Any], identity: Identity, params: Mapping[str, Any]) -> None:
        options = dict(zip(expr[3::2], expr[4::2], strict=False))
        required = options.get("require_param")
        if required and params.get(required) is None:
            return
        path = self._path(str(expr[1]), params)
        privs = [str(p) for p in expr[2]]
        have = self.privileges(identity, path)
        if options.get("any"):
            if not have & set(privs):
                raise fail(f"{path}, {'|'.join(privs)}")
            return
        for priv in privs:
            if priv not in have:
                raise fail(f"{path}, {priv}")

    def _userid_param(self, expr: Sequence[Any], identity: Identity, params: Mapping[str, Any]) -> None:
        target = str(params.get("userid", ""))
        if expr[1] == "self":
            if target not in self.cluster.users:
                raise PVEError(500, f"no such user ('{target}')\n")
            if target != identity.authid:
                raise fail()
            return
        realm = target.rpartition("@")[2]
        priv = str(expr[1])
        if priv not in self.privileges(identity, f"/access/realm/{realm}"):
            raise fail(f"/access/realm/{realm}, {priv}")

    def _userid_group(self, expr: Sequence[Any], identity: Identity, params: Mapping[str, Any]) -> None:
        """PVE's ``userid-group``: the privileges on /access/groups, or on the groups concerned."""
        privs = {str(p) for p in expr[1]}
        options = dict(zip(expr[2::2], expr[3::2], strict=False))
        groups_param = options.get("groups_param")
        target = str(params.get("userid", ""))
        check_existing = groups_param != "create"
        if check_existing and target not in self.cluster.users:
            raise PVEError(500, f"no such user ('{target}')\n")
        if privs & self.privileges(identity, "/access/groups"):
            return
        allowed = {g for g in self.cluster.groups if privs & self.privileges(identity, f"/access/groups/{g}")}
        if groups_param:
            for group in [g for g in str(params.get("groups") or "").split(",") if g]:
                if group not in allowed:
                    raise fail(f"/access/groups/{group}, {'|'.join(sorted(privs))}")
        if check_existing:
            user = self.cluster.users[target]
            if not set(user.groups) & allowed:
                raise fail()

    @staticmethod
    def _path(template: str, params: Mapping[str, Any]) -> str:
        path = template
        while "{" in path:
            start = path.index("{")
            end = path.index("}", start)
            path = path[:start] + str(params.get(path[start + 1 : end], "")) + path[end + 1 :]
        return path
