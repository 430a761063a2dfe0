"""Mock handlers: users and their API tokens (pve-access-control API2/User.pm)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, TypeVar

from ....errors import PVEError
from ...base import Call
from ..runtime import Handler, Mock
from ..state import Cluster, Token, User
from ..store import tfa
from ..store.defaults import realms
from ._params import flag, id_list

T = TypeVar("T")

_TEXT_FIELDS = ("firstname", "lastname", "email", "comment", "keys")


def fail(message: str) -> PVEError:
    return PVEError(500, message + "\n")


def existing(table: Mapping[str, T], key: str, noun: str, what: str = "") -> T:
    """``table[key]``, or PVE's ``[what: ]<noun> '<key>' does not exist``."""
    found = table.get(key)
    if found is None:
        text = f"{noun} '{key}' does not exist"
        raise fail(f"{what}: {text}" if what else text)
    return found


def absent(table: Mapping[str, Any], key: str, noun: str, what: str) -> None:
    """Refuse to create ``key`` twice: ``<what>: <noun> '<key>' already exists``."""
    if key in table:
        raise fail(f"{what}: {noun} '{key}' already exists")


def check_user(cluster: Cluster, userid: str) -> User:
    user = cluster.users.get(userid)
    if user is None:
        raise fail(f"no such user ('{userid}')")
    return user


def token_info(token: Token) -> dict[str, Any]:
    info: dict[str, Any] = {"privsep": int(token.privsep), "expire": token.expire}
    if token.comment:
        info["comment"] = token.comment
    return info


def user_data(user: User, full: bool) -> dict[str, Any]:
    data: dict[str, Any] = {"enable": int(user.enable), "expire": user.expire}
    for name in _TEXT_FIELDS:
        if getattr(user, name):
            data[name] = getattr(user, name)
    if full:
        data["groups"] = list(user.groups)
        data["tokens"] = {t.tokenid: token_info(t) for t in user.tokens.values()}
    return data


def _check_groups(cluster: Cluster, params: Mapping[str, Any], what: str) -> list[str]:
    groups = id_list(params.get("groups"))
    for group in groups:
        if group not in cluster.groups:
            raise fail(f"{what}: no such group '{group}'")
    return groups


def _realm(userid: str) -> str:
    return userid.rpartition("@")[2]


def list_users(mock: Mock, call: Call) -> list[dict[str, Any]]:
    cluster = mock.cluster
    identity = call.identity
    perms = mock.permissions
    privs = {"User.Modify", "Sys.Audit"}
    can_all = identity is None or bool(privs & perms.privileges(identity, "/access/groups"))
    allowed_groups = set() if identity is None else {
        g for g in cluster.groups if privs & perms.privileges(identity, f"/access/groups/{g}")}
    full = flag(call.params.get("full"))
    enabled = call.params.get("enabled")
    answer = []
    for userid in sorted(cluster.users):
        user = cluster.users[userid]
        if not can_all and identity is not None and userid != identity.userid and not set(user.groups) & allowed_groups:
            continue
        if enabled is not None and user.enable != flag(enabled):
            continue
        entry = user_data(user, full)
        if full:
            entry["groups"] = ",".join(user.groups)
            entry["tokens"] = [{"tokenid": t.tokenid, **token_info(t)} for _, t in sorted(user.tokens.items())]
        realm = _realm(userid)
        if realm in ("pam", "pve"):
            entry["realm-type"] = realm
        entry["userid"] = userid
        answer.append(entry)
    return answer


def create_user(mock: Mock, call: Call) -> None:
    cluster = mock.cluster
    params = call.params
    userid = str(params["userid"])
    what = "create user failed"
    absent(cluster.users, userid, "user", what)
    groups = _check_groups(cluster, params, what)
    password = params.get("password")
    if password is not None and _realm(userid) not in realms(cluster):
        # pve-access-control AccessControl.pm:961 domain_set_password, only for a password (User.pm:335)
        raise fail(f"{what}: auth domain '{_realm(userid)}' does not exist")
    user = User(userid, enable=flag(params.get("enable", "1")), expire=int(params.get("expire") or 0),
                password=str(password) if password is not None else None)
    for name in _TEXT_FIELDS:
        if params.get(name):
            setattr(user, name, str(params[name]))
    user.groups = list(dict.fromkeys(groups))
    cluster.users[userid] = user


def read_user(mock: Mock, call: Call) -> dict[str, Any]:
    return user_data(check_user(mock.cluster, str(call.params["userid"])), True)


def update_user(mock: Mock, call: Call) -> None:
    cluster = mock.cluster
    params = call.params
    userid = str(params["userid"])
    user = cluster.users.get(userid)
    if user is None:
        raise fail(f"update user failed: no such user ('{userid}')")
    groups = _check_groups(cluster, params, "update user failed")
    if params.get("enable") is not None:
        user.enable = flag(params["enable"])
    if params.get("expire") is not None:
        user.expire = int(params["expire"])
    if params.get("groups") is not None:
        base = list(user.groups) if flag(params.get("append")) else []
        user.groups = list(dict.fromkeys(base + groups))
    for name in _TEXT_FIELDS:
        if params.get(name) is not None:
            setattr(user, name, str(params[name]))


def delete_user(mock: Mock, call: Call) -> None:
    # PVE does not check that the user exists: deleting an unknown user succeeds
    cluster = mock.cluster
    userid = str(call.params["userid"])
    cluster.users.pop(userid, None)
    tfa.forget_user(mock, userid)
    for key, entry in list(cluster.acl.items()):
        if (entry.kind == "user" and entry.ugid == userid) or (
                entry.kind == "token" and entry.ugid.startswith(userid + "!")):
            del cluster.acl[key]


# --- tokens ---------------------------------------------------------------------------------------


def check_token(cluster: Cluster, userid: str, tokenid: str, what: str = "") -> tuple[User, Token]:
    prefix = f"{what}: " if what else ""
    user = cluster.users.get(userid)
    if user is None:
        raise fail(f"{prefix}no such user ('{userid}')")
    token = user.tokens.get(tokenid)
    if token is None:
        raise fail(f"{prefix}no such token '{tokenid}' for user '{userid}'")
    return user, token


def list_tokens(mock: Mock, call: Call) -> list[dict[str, Any]]:
    user = check_user(mock.cluster, str(call.params["userid"]))
    return [{"tokenid": t.tokenid, **token_info(t)} for t in user.tokens.values()]


def read_token(mock: Mock, call: Call) -> dict[str, Any]:
    _, token = check_token(mock.cluster, str(call.params["userid"]), str(call.params["tokenid"]))
    return token_info(token)


def create_token(mock: Mock, call: Call) -> dict[str, Any]:
    params = call.params
    userid, tokenid = str(params["userid"]), str(params["tokenid"])
    user = check_user(mock.cluster, userid)
    if tokenid in user.tokens:
        raise PVEError(400, "Parameter verification failed.\n", errors={"tokenid": "Token already exists."})
    privsep = params.get("privsep")
    token = Token(tokenid, str(uuid.uuid4()), privsep=flag(privsep) if privsep is not None else True,
                  expire=int(params["expire"]) if params.get("expire") is not None else user.expire,
                  comment=str(params.get("comment") or ""))
    user.tokens[tokenid] = token
    return {"full-tokenid": f"{userid}!{tokenid}", "info": token_info(token), "value": token.secret}


def update_token(mock: Mock, call: Call) -> dict[str, Any]:
    params = call.params
    userid, tokenid = str(params["userid"]), str(params["tokenid"])
    _, token = check_token(mock.cluster, userid, tokenid)  # pve-access-control API2/User.pm:889, no prefix
    deletes = id_list(params.get("delete"))
    for name in deletes:
        # User.pm:907-914: only the comment may go; the parameter error is raised under lock_user_config,
        # whose prefix makes it a plain die of its string form (pve-common Exception.pm:98-115)
        if name != "comment":
            raise PVEError(500, f"updating token info failed: 400 Parameter verification failed.\n"
                                f"delete: unknown option '{name}'\n")
    if params.get("privsep") is not None:
        token.privsep = flag(params["privsep"])
    if params.get("expire") is not None:
        token.expire = int(params["expire"])
    if params.get("comment") is not None:
        token.comment = str(params["comment"])
    if deletes:
        token.comment = ""
    answer = token_info(token)
    if flag(params.get("regenerate")):
        token.secret = str(uuid.uuid4())
        answer["full-tokenid"] = f"{userid}!{tokenid}"
        answer["value"] = token.secret
    return answer


def delete_token(mock: Mock, call: Call) -> None:
    userid, tokenid = str(call.params["userid"]), str(call.params["tokenid"])
    user, _ = check_token(mock.cluster, userid, tokenid)
    del user.tokens[tokenid]
    full = f"{userid}!{tokenid}"
    for key, entry in list(mock.cluster.acl.items()):
        if entry.kind == "token" and entry.ugid == full:
            del mock.cluster.acl[key]


ROUTES: dict[tuple[str, str], Handler] = {
    ("GET", "/access/users"): list_users,
    ("POST", "/access/users"): create_user,
    ("GET", "/access/users/{userid}"): read_user,
    ("PUT", "/access/users/{userid}"): update_user,
    ("DELETE", "/access/users/{userid}"): delete_user,
    ("GET", "/access/users/{userid}/token"): list_tokens,
    ("GET", "/access/users/{userid}/token/{tokenid}"): read_token,
    ("POST", "/access/users/{userid}/token/{tokenid}"): create_token,
    ("PUT", "/access/users/{userid}/token/{tokenid}"): update_token,
    ("DELETE", "/access/users/{userid}/token/{tokenid}"): delete_token,
}
