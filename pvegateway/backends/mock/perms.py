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

    def privileges(self, identity: Identity, path: str) -> set[str]:
        userid = identity.userid
        if userid == ROOT and identity.tokenid is None:
            return set(ALL_PRIVILEGES)
        user = self.cluster.users.get(userid)
        if user is None:
            return set()
        subjects = [("user", userid)] + [("group", g) for g in user.groups]
        user_privs = set(ALL_PRIVILEGES) if userid == ROOT else self._privs_from_roles(self._roles_for(subjects, path))
        if identity.tokenid is None:
            return user_privs
        token = user.tokens.get(identity.tokenid)
        if token is None or not token.privsep:
            return user_privs
        token_roles = self._roles_for([("token", identity.authid)], path)
        return user_privs & self._privs_from_roles(token_roles)

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
            privs = list(expr[1])
            if not set(privs) & self.privileges(identity, "/access/groups"):
                raise fail()
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
            if target != identity.userid:
                raise fail()
            return
        realm = target.rpartition("@")[2]
        if str(expr[1]) not in self.privileges(identity, f"/access/realm/{realm}"):
            raise fail()

    @staticmethod
    def _path(template: str, params: Mapping[str, Any]) -> str:
        path = template
        while "{" in path:
            start = path.index("{")
            end = path.index("}", start)
            path = path[:start] + str(params.get(path[start + 1 : end], "")) + path[end + 1 :]
        return path
