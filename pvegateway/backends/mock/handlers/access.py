"""Mock handlers: authentication and access control (``/access``)."""

from __future__ import annotations

import hmac
from typing import Any

from ....errors import PVEError
from ...base import Call, Identity
from ..auth import user_active
from ..runtime import Handler, Mock

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
    if not user_active(user, now) or user is None:
        raise _auth_failure()
    renewed_by = mock.signer.verify_ticket(password, now)
    if renewed_by is not None:
        if renewed_by not in (userid, "root@pam"):  # root@pam may mint tickets for other users
            raise _auth_failure()
    elif user.password is None or not hmac.compare_digest(user.password.encode(), password.encode()):
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


ROUTES: dict[tuple[str, str], Handler] = {
    ("POST", "/access/ticket"): create_ticket,
    ("GET", "/access/ticket"): ticket_index,
}
