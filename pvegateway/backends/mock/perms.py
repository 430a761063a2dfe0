"""Permission checks as PVE's RPCEnvironment does them: ACL inheritance, roles, privsep tokens.

ACL semantics: walking from ``/`` down to the checked path, entries on a deeper path replace what was
inherited; at one path, user entries win over group entries; entries without ``propagate`` apply
only to their exact path; ``NoAccess`` grants nothing. ``root@pam`` has every privilege. A token with
``privsep`` gets the intersection of its own ACLs and its user's.

The checks (``check``, ``check_any``, ``check_vm_perm``, ``check_perm_modify``) and the schema's check
expressions (``exec_check``) follow pve-access-control ``src/PVE/RPCEnvironment.pm``: with ``noerr``
they answer False, otherwise they raise PVE's 403 with its text. A caller of None is the mock's own
(an open route's handler): it passes every check.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from typing import Any

from ...apidoc.operation import Operation
from ...errors import PVEError
from ...schema.perl import split_list
from ...secrets import same_secret
from ..base import Identity
from .roles import ALL_PRIVILEGES
from .state import Cluster

ROOT = "root@pam"
_TEMPLATE = re.compile(r"\{([^}]+)\}")
_PATH_CHARS = re.compile(r"^[A-Za-z0-9.\-_/]+$")


def fail(detail: str | None = None) -> PVEError:
    """PVE's raise_perm_exc (pve-common src/PVE/Exception.pm:53)."""
    return PVEError(403, f"Permission check failed ({detail})\n" if detail else "Permission check failed\n")


def normalize_path(path: str) -> str | None:
    """pve-access-control AccessControl.pm normalize_path: one '/', no trailing one, plain characters."""
    if not path:
        return None
    path = re.sub(r"/+", "/", path)
    path = path.removesuffix("/") or "/"
    path = path if path.startswith("/") else "/" + path
    return path if _PATH_CHARS.match(path) else None


def template_path(template: str, params: Mapping[str, Any]) -> str:
    """PVE::Tools::template_replace: ``{name}`` becomes the parameter, or ``-`` when it is missing or false."""
    def value(match: re.Match[str]) -> str:
        found = params.get(match.group(1))
        return str(found) if found not in (None, "", 0, "0") else "-"
    return _TEMPLATE.sub(value, template)


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

    def holds_everywhere(self, identity: Identity | None) -> bool:
        """Whether ``identity`` holds every privilege on every path, ACLs aside (no caller, root, or a
        root token without privilege separation): a listing need not ask for each object."""
        if identity is None:
            return True
        if identity.userid != ROOT:
            return False
        if identity.tokenid is None:
            return True
        user = self.cluster.users.get(ROOT)
        token = user.tokens.get(identity.tokenid) if user is not None else None
        return token is not None and not token.privsep

    def privileges(self, identity: Identity, path: str) -> AbstractSet[str]:
        """What ``identity`` holds on ``path`` (read-only: root's is the shared set of every privilege,
        asked for on every object of a listing)."""
        userid = identity.userid
        if userid == ROOT and identity.tokenid is None:
            return ALL_PRIVILEGES
        user = self.cluster.users.get(userid)
        if user is None:
            return set()
        subjects = [("user", userid)] + [("group", g) for g in user.groups]
        user_privs: AbstractSet[str] = ALL_PRIVILEGES if userid == ROOT else self._subject_privs(subjects, path)
        if identity.tokenid is None:
            return user_privs
        token = user.tokens.get(identity.tokenid)
        if token is None:
            return set()
        if not token.privsep:
            return user_privs
        return user_privs & self._subject_privs([("token", identity.authid)], path)

    # --- RPCEnvironment.pm's checks -------------------------------------------------------------------

    def check(self, identity: Identity | None, path: str, privs: Sequence[str], noerr: bool = False) -> bool:
        """Every one of ``privs`` on ``path`` (RPCEnvironment.pm:291), else "<path>, <first missing>"."""
        if identity is None:
            return True
        have = self.privileges(identity, path)
        for priv in privs:
            if priv not in have:
                if noerr:
                    return False
                raise fail(f"{path}, {priv}")
        return True

    def check_any(self, identity: Identity | None, path: str, privs: Sequence[str], noerr: bool = False) -> bool:
        """One of ``privs`` on ``path`` (RPCEnvironment.pm:307), else "<path>, <a>|<b>"."""
        if identity is None or set(privs) & self.privileges(identity, path):
            return True
        if noerr:
            return False
        raise fail(f"{path}, {'|'.join(privs)}")

    def check_full(self, identity: Identity | None, path: str, privs: Sequence[str], any_: bool = False,
                   noerr: bool = False) -> bool:
        checker = self.check_any if any_ else self.check
        return checker(identity, path, privs, noerr)

    def check_vm_perm(self, identity: Identity | None, vmid: Any, pool: Any, privs: Sequence[str],
                      any_: bool = False, noerr: bool = False) -> bool:
        """``privs`` on the pool a guest is created in, or on the guest (RPCEnvironment.pm:388)."""
        if pool and self.check_full(identity, f"/pool/{pool}", privs, any_, noerr=True):
            return True
        return self.check_full(identity, f"/vms/{vmid}", privs, any_, noerr)

    def check_perm_modify(self, identity: Identity | None, path: str, noerr: bool = False) -> bool:
        """The right to change permissions on ``path`` (RPCEnvironment.pm:442): Permissions.Modify, or
        the allocate privilege of the object (VM.Allocate on /vms/X, Datastore.Allocate, Pool.Allocate)."""
        if not path:
            return self.check(identity, "/access", ["Permissions.Modify"], noerr)
        privs = ["Permissions.Modify"]
        if re.match(r"^/storage/.+$", path):
            privs.append("Datastore.Allocate")
        elif re.match(r"^/vms/.+$", path):
            privs.append("VM.Allocate")
        elif re.match(r"^/pool/.+$", path):
            privs.append("Pool.Allocate")
        return self.check_any(identity, path, privs, noerr)

    def check_sdn_bridge(self, identity: Identity | None, zone: str, bridge: str, privs: Sequence[str],
                         noerr: bool = False) -> bool:
        """Any access to a bridge: ``privs`` on it, or on one of its VLANs (RPCEnvironment.pm:338)."""
        path = f"/sdn/zones/{zone}/{bridge}"
        if self.check_any(identity, path, privs, noerr=True):
            return True
        vlans = {key[0] for key in self.cluster.acl
                 if key[0].startswith(path + "/") and "/" not in key[0][len(path) + 1:]}
        if any(self.check_any(identity, vlan, privs, noerr=True) for vlan in sorted(vlans)):
            return True
        return self.check_any(identity, path, privs, noerr)

    def groups_with(self, identity: Identity | None, privs: Sequence[str]) -> set[str]:
        """filter_groups (RPCEnvironment.pm:409): the groups ``identity`` holds any of ``privs`` on."""
        return {g for g in self.cluster.groups if self.check_any(identity, f"/access/groups/{g}", privs, True)}

    def user_exists(self, userid: str, noerr: bool = False) -> bool:
        """AccessControl.pm check_user_exist: "no such user ('<id>')" unless ``noerr``."""
        if userid in self.cluster.users:
            return True
        if noerr:
            return False
        raise PVEError(500, f"no such user ('{userid}')\n")

    def reauth(self, identity: Identity | None, userid: str, password: Any, param: str = "password") -> str:
        """reauth_user_for_user_modification (RPCEnvironment.pm:657): only root@pam may modify root@pam,
        and everyone else confirms the change with their own current password."""
        self.user_exists(userid)
        if identity is None or identity.authid == ROOT:
            return userid
        if userid == ROOT:
            raise fail()
        if password is None:
            raise PVEError.params({param: "password is required to modify user"})
        own = self.cluster.users.get(identity.userid)
        # the realm plugins' authenticate_user: Auth/PVE.pm:76-85, Auth/PAM.pm (pam_strerror)
        if not password:
            raise PVEError(500, "no password\n")
        if own is None or own.password is None:
            raise PVEError(500, "no password set\n")
        if not same_secret(own.password, str(password)):
            pam = identity.userid.endswith("@pam")
            raise PVEError(500, "Authentication failure\n" if pam else "invalid credentials\n")
        return userid

    # --- the schema's ``permissions`` (check_api2_permissions, exec_api2_perm_check) --------------------

    def authorize(self, op: Operation, identity: Identity | None, params: Mapping[str, Any]) -> None:
        """pve-manager HTTPServer.pm rest_handler, then RPCEnvironment.pm:549 check_api2_permissions."""
        if identity is None:
            return  # an open route
        if identity.tokenid and not op.allowtoken:
            uri = op.path
            for name in op.path_params:
                uri = uri.replace("{" + name + "}", str(params.get(name, "")))
            raise fail(f"URI '{uri}' not available with API token, need proper ticket.\n")
        if identity.userid == ROOT and not identity.tokenid:
            return  # root@pam passes every check
        permissions = op.permissions
        if not permissions:
            raise fail("user != root@pam")
        if permissions.get("user") in ("all", "world"):
            return  # before any ``check``: what remains is the handler's own code ('world': no caller)
        check = permissions.get("check")
        if not check:
            raise fail()
        self.exec_check(check, identity, params)

    def exec_check(self, expr: Sequence[Any], identity: Identity, params: Mapping[str, Any],
                   noerr: bool = False) -> bool:
        """RPCEnvironment.pm:459. An ``or`` asks its members with ``noerr``; an ``and`` never passes
        ``noerr`` on, so a failing ``and`` inside an ``or`` raises its own message at once, as in PVE."""
        kind = expr[0]
        if kind == "and":
            for sub in expr[1:]:
                self.exec_check(sub, identity, params)
            return True
        if kind == "or":
            if any(self.exec_check(sub, identity, params, noerr=True) for sub in expr[1:]):
                return True
            if noerr:
                return False
            raise fail()
        if kind == "perm":
            return self._perm(expr, identity, params, noerr)
        if kind == "userid-group":
            return self._userid_group(expr, identity, params, noerr)
        if kind == "userid-param":
            return self._userid_param(expr, identity, params, noerr)
        if kind == "perm-modify":
            path = normalize_path(template_path(str(expr[1]), params))
            return path is not None and self.check_perm_modify(identity, path, noerr)
        raise PVEError(500, "unknown permission test\n")

    def _perm(self, expr: Sequence[Any], identity: Identity, params: Mapping[str, Any], noerr: bool) -> bool:
        options = dict(zip(expr[3::2], expr[4::2], strict=False))
        required = options.get("require_param")
        if required and params.get(str(required)) is None:  # a missing parameter fails the check
            if noerr:
                return False
            raise fail()
        privs = [str(p) for p in expr[2]]
        if self.holds_everywhere(identity) and ALL_PRIVILEGES.issuperset(privs):
            return True  # root's token without privilege separation: the path would not change the answer
        path = template_path(str(expr[1]), params)
        path = normalize_path(path) or path
        return self.check_full(identity, path, privs, bool(options.get("any")), noerr)

    def _userid_param(self, expr: Sequence[Any], identity: Identity, params: Mapping[str, Any],
                      noerr: bool) -> bool:
        target = str(params.get("userid", ""))
        if expr[1] == "self":
            if not self.user_exists(target, noerr):
                return False
            if target == identity.authid:
                return True
            if noerr:
                return False
            raise fail()
        realm = target.rpartition("@")[2]
        return self.check(identity, f"/access/realm/{realm}", ["Realm.AllocateUser"], noerr)

    def _userid_group(self, expr: Sequence[Any], identity: Identity, params: Mapping[str, Any],
                      noerr: bool) -> bool:
        """The privileges on /access/groups, or on the groups concerned (RPCEnvironment.pm:493)."""
        privs = [str(p) for p in expr[1]]
        options = dict(zip(expr[2::2], expr[3::2], strict=False))
        groups_param = options.get("groups_param")
        target = str(params.get("userid", ""))
        check_existing = groups_param != "create"
        if check_existing and not self.user_exists(target, noerr):
            return False
        if self.check_any(identity, "/access/groups", privs, noerr=True):
            return True
        allowed = self.groups_with(identity, privs)
        if groups_param:
            wanted = [g for g in split_list(str(params.get("groups") or "")) if g]
            if not wanted:  # raised whatever ``noerr`` says, like PVE
                raise fail(f"/access/groups, {'|'.join(privs)}")
            for group in wanted:
                if group not in allowed:
                    raise fail(f"/access/groups/{group}, {'|'.join(privs)}")
        if check_existing and not set(self.cluster.users[target].groups) & allowed:
            if noerr:
                return False
            raise fail()
        return True
