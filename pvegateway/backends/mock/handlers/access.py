"""Mock handlers: authentication and access control (``/access``)."""

from __future__ import annotations

import re
import secrets
from typing import Any

from ....errors import PVEError
from ....secrets import same_secret
from ...base import Call, Identity
from ..auth import user_active
from ..perms import ROOT
from ..perms import fail as perm_fail
from ..runtime import Handler, Mock
from ..store import tfa
from ..store.defaults import realms
from . import _acl, _users, consoles, pools
from ._params import flag

# compute_api_permission (pve-access-control RPCEnvironment.pm): which privileges a login reports
_CAP_PATHS = {
    "vms": ("/vms", ("VM.",)),
    "storage": ("/storage", ("Datastore.",)),
    "access": ("/access", ("User.", "Group.", "Realm.", "Permissions.")),
    "nodes": ("/nodes", ("Sys.",)),
    "sdn": ("/sdn", ("SDN.",)),
    "dc": ("/", ("Sys.Audit", "Sys.Modify", "Sys.Incoming", "SDN.", "Mapping.")),
    "mapping": ("/mapping", ("Mapping.",)),
}


def _capabilities(mock: Mock, identity: Identity) -> dict[str, dict[str, int]]:
    perms = mock.permissions
    caps: dict[str, dict[str, int]] = {}
    for name, (path, prefixes) in _CAP_PATHS.items():
        privs = perms.privileges(identity, path)
        caps[name] = {p: 1 for p in sorted(privs) if p.startswith(prefixes)}
    return caps


_UNGUESSABLE = secrets.token_urlsafe(32)  # compared with when a user has no password: never matches


def _auth_failure() -> PVEError:
    return PVEError(401, "authentication failure\n")


def create_ticket(mock: Mock, call: Call) -> dict[str, Any]:
    params = call.params
    username = str(params["username"])
    realm = params.get("realm")
    userid = username if "@" in username or not realm else f"{username}@{realm}"
    password = str(params["password"])
    now = mock.clock.now()
    user = mock.cluster.users.get(userid)
    # the same work whatever the outcome (no faster answer for an unknown or disabled user): one ticket
    # check and one constant-time comparison, against a secret nobody knows when there is no password
    renewed_by = mock.signer.verify_ticket(password, now)
    stored = user.password if user is not None and user.password is not None else _UNGUESSABLE
    password_ok = same_secret(stored, password)
    if not user_active(user, now) or user is None:
        raise _auth_failure()
    if renewed_by is not None:
        if renewed_by not in (userid, "root@pam"):  # root@pam may mint tickets for other users
            raise _auth_failure()
    elif user.password is None or not password_ok:
        raise _auth_failure()
    identity = Identity(userid)
    if params.get("path") is not None and params.get("privs") is not None:
        # verification mode: no new ticket, just whether the user holds the privileges
        wanted = [p for p in str(params["privs"]).replace(";", ",").split(",") if p]
        have = mock.permissions.privileges(identity, str(params["path"]))
        if not all(p in have for p in wanted):
            raise _auth_failure()
        return {"username": userid}
    answer: dict[str, Any] = {
        "username": userid,
        "ticket": mock.signer.ticket(userid, now),
        "CSRFPreventionToken": mock.signer.csrf(userid, now),
        "cap": _capabilities(mock, identity),
    }
    if "Sys.Audit" in mock.permissions.privileges(identity, "/") and len(mock.cluster.nodes) > 1:
        answer["clustername"] = mock.cluster.name
    return answer


def ticket_index(mock: Mock, call: Call) -> None:
    return None  # GET /access/ticket: PVE answers null (the login form lives in the GUI)


def access_index(mock: Mock, call: Call) -> list[dict[str, str]]:
    names = ["users", "groups", "roles", "acl", "domains", "openid", "tfa", "ticket", "password", "permissions"]
    return [{"subdir": name} for name in names]


def list_domains(mock: Mock, call: Call) -> list[dict[str, Any]]:
    """pve-access-control src/PVE/API2/Domains.pm:98-108: each realm's type, comment, default and
    TFA flag, for the login form (the rest of a realm's options need Realm.Allocate: its read)."""
    return [{"realm": realm, **{k: v for k, v in info.items() if k in ("type", "comment", "default", "tfa")}}
            for realm, info in realms(mock.cluster).items()]


def change_password(mock: Mock, call: Call) -> None:
    """pve-access-control API2/AccessControl.pm change_password (:440-471)."""
    params = call.params
    identity = call.identity
    userid = mock.permissions.reauth(identity, str(params["userid"]), params.get("confirmation-password"),
                                     "confirmation-password")
    if identity is not None and identity.userid != ROOT:
        if identity.userid == userid:
            _check_enabled(mock, userid)
        elif userid == ROOT or userid.endswith("@pam"):
            raise perm_fail()  # only root changes root's and the system (pam) users' passwords
    mock.cluster.users[userid].password = str(params["password"])


def _check_enabled(mock: Mock, userid: str) -> None:
    """AccessControl.pm check_user_enabled."""
    user = mock.cluster.users[userid]
    if not user.enable:
        raise PVEError(500, f"user '{userid}' is disabled\n")
    if user.expire and user.expire < mock.clock.now():
        raise PVEError(500, f"user '{userid}' access expired\n")


def user_tfa_types(mock: Mock, call: Call) -> dict[str, Any]:
    """User.pm:620-648 read_user_tfa_type: the realm's TFA type (its ``tfa`` option), and with ``multiple``
    the user's entries' types. Without it, PVE reads a key the TFA config object does not have (User.pm:645),
    so ``user`` is never set."""
    userid = str(call.params["userid"])
    realm = userid.rpartition("@")[2]
    realm_cfg = realms(mock.cluster).get(realm)
    if realm_cfg is None:
        raise PVEError(500, f"auth domain '{realm}' does not exist\n")
    settings = dict(p.partition("=")[::2] for p in str(realm_cfg.get("tfa") or "").split(",") if p)
    out: dict[str, Any] = {"realm": settings["type"]} if settings.get("type") else {}
    if flag(call.params.get("multiple")):
        out["user"] = tfa.user_types(mock, userid)
    return out


def vnc_ticket(mock: Mock, call: Call) -> None:
    """pve-access-control src/PVE/API2/AccessControl.pm:375-399 (what termproxy asks): any failure
    is 401 'authentication failure' (no enumeration)."""
    privs = [p for p in re.split(r"[;,\s]+", str(call.params["privs"])) if p]  # pve-common Tools.pm split_list
    port = call.params.get("port")
    if not consoles.vncticket_passes(mock, str(call.params["authid"]), str(call.params["vncticket"]),
                                     str(call.params["path"]), privs, int(port) if port is not None else None):
        raise _auth_failure()


def openid_auth_url(mock: Mock, call: Call) -> Any:
    """OpenId.pm:24-33 $lookup_openid_auth: the mock has only the pam and pve realms."""
    realm = str(call.params["realm"])
    info = realms(mock.cluster).get(realm)
    if info is None:
        raise PVEError(500, f"authentication domain '{realm}' does not exist\n")
    raise PVEError(500, f"wrong realm type ({info['type']} != openid)\n")


def openid_login(mock: Mock, call: Call) -> Any:
    """OpenId.pm:349-353: every failure (here: no OpenID realm, so no valid state) is a 401."""
    raise _auth_failure()


def _interesting_paths(mock: Mock) -> list[str]:
    paths = {"/", "/access", "/access/groups", "/nodes", "/pool", "/sdn", "/storage", "/vms", "/mapping"}
    paths |= {entry.path for entry in mock.cluster.acl.values()}
    for pool in mock.cluster.pools.values():
        paths.add(f"/pool/{pool.poolid}")
        paths |= {f"/vms/{vmid}" for vmid in pool.vmids}
        paths |= {f"/storage/{s}" for s in pool.storages}
    return sorted(paths)


def permissions(mock: Mock, call: Call) -> dict[str, dict[str, int]]:
    identity = call.identity or Identity("root@pam")
    wanted = call.params.get("userid")
    if wanted is not None and str(wanted) != identity.authid:
        target = str(wanted)
        userid, _, token = target.partition("!")
        if token:
            _users.check_token(mock.cluster, userid, token)
        else:
            _users.check_user(mock.cluster, userid)
        own = token and userid == identity.userid and not identity.tokenid
        if not own and "Sys.Audit" not in mock.permissions.privileges(identity, "/access"):
            raise PVEError(403, "Permission check failed (/access, Sys.Audit)\n")
        identity = Identity(userid, token or None)
    path = call.params.get("path")
    paths = [_acl.normalize_path(str(path)) or str(path)] if path is not None else _interesting_paths(mock)
    answer: dict[str, dict[str, int]] = {}
    for one in paths:
        privs = mock.permissions.privileges(identity, one)
        if privs or path is not None:
            answer[one] = {p: 1 for p in sorted(privs)}
    return answer


ROUTES: dict[tuple[str, str], Handler] = {
    ("GET", "/access"): access_index,
    ("POST", "/access/ticket"): create_ticket,
    ("GET", "/access/ticket"): ticket_index,
    ("GET", "/access/domains"): list_domains,
    ("PUT", "/access/password"): change_password,
    ("GET", "/access/users/{userid}/tfa"): user_tfa_types,
    ("POST", "/access/vncticket"): vnc_ticket,
    ("POST", "/access/openid/auth-url"): openid_auth_url,
    ("POST", "/access/openid/login"): openid_login,
    ("GET", "/access/permissions"): permissions,
    **_users.ROUTES,
    **_acl.ROUTES,
    **pools.ROUTES,
}
