"""Users' second factors (``priv/tfa.cfg``): add, list, read, update and delete TFA entries.

pve-access-control src/PVE/API2/TFA.pm hands each call to proxmox-tfa (proxmox-rs proxmox-tfa/src/api/
methods.rs, bound by proxmox-perl-rs pve-rs/src/bindings/tfa.rs); their texts are those of that code, and
an error the Rust side raises carries Perl's `` at FILE line N.`` of the TFA.pm line that called it.
The caller's password (TFA.pm:228, :367, :464) is the in-code guard's (incode.py).

Kept per user at ``/access/tfa/<userid>``: entries by type (an id, description, creation time, enable
flag), a TOTP entry's URI, and for recovery keys only their keyed hashes: the keys themselves are in the
answer that adds them, once, and nowhere else.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from ....errors import PVEError
from ....schema.perl import truthy
from ...base import Call
from ..runtime import Mock
from ..totp import Totp, TotpError
from .defaults import realms

View = Callable[[Mock, Call], Any]

_PLACE = "/access/tfa/"
_TFA_PM = "/usr/share/perl5/PVE/API2/TFA.pm"
# the order proxmox-tfa lists a user's entries in (api/methods.rs to_data); recovery is one entry at most
_LISTED = ("totp", "webauthn", "u2f", "yubico")
_RECOVERY_KEYS = 10  # proxmox-tfa api/recovery.rs generate: ten keys of 8 random bytes


def _rust_error(text: str, line: int) -> PVEError:
    """A proxmox-tfa error, died with by perlmod at the calling line of TFA.pm."""
    return PVEError(500, f"{text} at {_TFA_PM} line {line}.\n")


def _user_data(mock: Mock, userid: str) -> dict[str, Any] | None:
    return mock.cluster.store.singletons.get(_PLACE + userid)


def _info(entry: Mapping[str, Any]) -> dict[str, Any]:
    """types.rs TfaInfo as serialized: no description when empty, ``enable`` only when off."""
    out: dict[str, Any] = {"id": entry["id"]}
    if entry.get("description"):
        out["description"] = entry["description"]
    out["created"] = entry["created"]
    if not entry.get("enable", 1):
        out["enable"] = 0
    return out


def _typed(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """methods.rs to_data: the recovery entry first, then totp, webauthn, u2f and yubico entries."""
    out = []
    recovery = data.get("recovery")
    if recovery is not None:
        out.append({"type": "recovery", "id": "recovery", "created": recovery["created"]})
    for kind in _LISTED:
        out += [{"type": kind, **_info(entry)} for entry in data.get(kind, [])]
    return out


def list_all(mock: Mock, call: Call) -> list[dict[str, Any]]:
    """TFA.pm:288-310 (api_list_tfa with every user; the in-code guard keeps those the caller may see)."""
    out = []
    for place, data in mock.cluster.store.singletons.items():
        if place.startswith(_PLACE):
            out.append({"userid": place[len(_PLACE):], "entries": _typed(data)})
    return out


def list_user(mock: Mock, call: Call) -> list[dict[str, Any]]:
    """TFA.pm:155-158, methods.rs list_user_tfa: a user without entries (or unknown) has none."""
    data = _user_data(mock, str(call.params["userid"]))
    return _typed(data) if data is not None else []


def read_entry(mock: Mock, call: Call) -> dict[str, Any]:
    """TFA.pm:186-194, methods.rs get_tfa_entry: 404 for an id the user has not."""
    ident = str(call.params["id"])
    data = _user_data(mock, str(call.params["userid"]))
    for entry in _typed(data) if data is not None else []:
        if entry["id"] == ident:
            return entry
    raise PVEError(404, f"No such tfa entry '{ident}'")


def add_entry(mock: Mock, call: Call) -> dict[str, Any]:
    """TFA.pm:355-400, methods.rs add_tfa_entry: each type's parameters, then the entry."""
    params = call.params
    userid, kind = str(params["userid"]), str(params["type"])
    description, totp, value, challenge = (params.get(k) for k in ("description", "totp", "value", "challenge"))
    if kind == "yubico":
        value = _yubico_key(mock, userid, value)
    data = dict(_user_data(mock, userid) or {})
    entry: dict[str, Any] = {}
    answer: dict[str, Any]
    if kind == "recovery":
        if totp is not None or value is not None or challenge is not None:
            raise _rust_error("generating recovery tokens does not allow additional parameters", 384)
        if data.get("recovery") is not None:
            raise _rust_error("user already has recovery keys", 384)
        keys = [secrets.token_hex(8) for _ in range(_RECOVERY_KEYS)]
        keys = [f"{k[0:4]}-{k[4:8]}-{k[8:12]}-{k[12:16]}" for k in keys]
        salt = secrets.token_hex(8)
        data["recovery"] = {"created": mock.clock.now(), "secret": salt,
                            "entries": [_keyed(salt, key) for key in keys]}
        answer = {"id": "recovery", "recovery": keys}
    elif kind == "totp":
        if challenge is not None:
            raise _rust_error("'challenge' parameter is invalid for 'totp' entries", 384)
        entry = _new_entry(mock, _description(description))
        if totp is None or value is None:
            raise _rust_error("'totp' type requires both 'totp' and 'value' parameters", 384)
        try:
            parsed = Totp.parse(str(totp))
        except TotpError as err:
            raise _rust_error(str(err), 384) from None
        if not parsed.verify(str(value), mock.clock.now()):
            raise _rust_error("failed to verify TOTP challenge", 384)
        entry["totp"] = str(totp)
        answer = {"id": entry["id"]}
    elif kind == "yubico":
        if totp is not None or challenge is not None:
            raise _rust_error("'totp' and 'challenge' parameters are invalid for 'yubico' entries", 384)
        entry = _new_entry(mock, _description(description))
        entry["key"] = value
        answer = {"id": entry["id"]}
    else:  # webauthn, u2f (methods.rs add_webauthn, add_u2f): a challenge first, then its response
        if totp is not None:
            raise _rust_error(f"'totp' parameter is invalid for '{kind}' entries", 384)
        if challenge is None:
            _description(description)
        elif value is None:
            raise _rust_error(f"missing 'value' parameter ({kind} challenge response missing)", 384)
        if not mock.cluster.options.get(kind):  # datacenter.cfg's u2f/webauthn (AccessControl.pm)
            raise _rust_error(f"no {kind} configuration available", 384)
        # the mock holds no authenticator to answer a challenge with
        raise _rust_error(f"{kind} registration is not modelled by the mock", 384)
    if entry:
        data[kind] = [*data.get(kind, []), entry]
    mock.cluster.store.singletons[_PLACE + userid] = data
    mock.cluster.users[userid].keys = "x"  # TFA.pm:100-126 set_user_tfa_enabled
    return answer


def update_entry(mock: Mock, call: Call) -> None:
    """TFA.pm:466-475, methods.rs update_tfa_entry: the recovery keys cannot be edited (find_entry_mut)."""
    params = call.params
    entry = _find(mock, str(params["userid"]), str(params["id"]), 471)[1]
    if params.get("description") is not None:
        entry["description"] = str(params["description"])
    if params.get("enable") is not None:
        entry["enable"] = 1 if truthy(params["enable"]) else 0


def delete_entry(mock: Mock, call: Call) -> None:
    """TFA.pm:232-241, methods.rs delete_tfa; a user left without entries has TFA switched off."""
    userid, ident = str(call.params["userid"]), str(call.params["id"])
    data = _user_data(mock, userid)
    if data is not None and ident == "recovery" and data.get("recovery") is not None:
        data.pop("recovery")
    else:
        kind, entry = _find(mock, userid, ident, 234)
        data = _user_data(mock, userid) or {}
        data[kind] = [e for e in data[kind] if e is not entry]
    if not any(data.get(kind) for kind in (*_LISTED, "recovery")):
        mock.cluster.store.singletons.pop(_PLACE + userid, None)
        user = mock.cluster.users.get(userid)
        if user is not None:
            user.keys = ""


def _find(mock: Mock, userid: str, ident: str, line: int) -> tuple[str, dict[str, Any]]:
    data = _user_data(mock, userid) or {}
    for kind in _LISTED:
        for entry in data.get(kind, []):
            if entry["id"] == ident:
                return kind, entry
    raise _rust_error("no such entry", line)


def _description(description: Any) -> str:
    if description is None:  # methods.rs need_description
        raise _rust_error("'description' is required for new entries", 384)
    return str(description)


def _new_entry(mock: Mock, description: str) -> dict[str, Any]:
    """api/mod.rs TfaEntry::new: a fresh UUID (here from the store's counter, so runs repeat), enabled."""
    mock.cluster.store.serial += 1
    digest = hashlib.sha1(f"tfa-entry-{mock.cluster.store.serial}".encode(), usedforsecurity=False).digest()
    return {"id": str(uuid.UUID(bytes=digest[:16], version=4)), "description": description,
            "created": mock.clock.now(), "enable": 1}


def _keyed(salt: str, key: str) -> str:
    """api/recovery.rs hash: HMAC-SHA256 of the key under the entry's secret."""
    return hmac.new(salt.encode(), key.encode(), hashlib.sha256).hexdigest()


def _yubico_key(mock: Mock, userid: str, value: Any) -> str:
    """TFA.pm:403-424 validate_yubico_otp: the user's realm must be set up for Yubico OTP; the key is the
    OTP's first 12 characters. (The mock does not ask Yubico's servers to confirm the OTP.)"""
    realm = userid.rpartition("@")[2]
    realm_cfg = realms(mock.cluster).get(realm)
    if realm_cfg is None:
        raise PVEError(500, f"auth domain '{realm}' does not exist\n")
    tfa = str(realm_cfg.get("tfa") or "")
    if not tfa:
        raise PVEError(500, f"no yubico otp configuration available for realm {realm}\n")
    settings = dict(part.partition("=")[::2] for part in tfa.split(",") if part)
    if settings.get("type") != "yubico":
        raise PVEError(500, "realm is not setup for Yubico OTP\n")
    return str(value or "")[:12]


def user_types(mock: Mock, userid: str) -> list[str]:
    """pve-access-control src/PVE/API2/User.pm:636-643 (read_user_tfa_type, ``multiple``): the types the
    user's tfa.cfg data has entries of. Recovery keys are an object there, not a list, and the loop's
    ``->@*`` dies on them (PVE answers that error)."""
    data = _user_data(mock, userid) or {}
    if data.get("recovery") is not None:
        raise PVEError(500, "Not an ARRAY reference at /usr/share/perl5/PVE/API2/User.pm line 640.\n")
    return [kind for kind in ("totp", "u2f", "webauthn", "yubico") if data.get(kind)]


def forget_user(mock: Mock, userid: str) -> None:
    """User.pm:546-548 user_remove_tfa: a deleted user's entries go with it."""
    mock.cluster.store.singletons.pop(_PLACE + userid, None)


VIEWS: Mapping[str, View] = {
    "GET /access/tfa": list_all,
    "GET /access/tfa/{userid}": list_user,
    "POST /access/tfa/{userid}": add_entry,
    "GET /access/tfa/{userid}/{id}": read_entry,
    "PUT /access/tfa/{userid}/{id}": update_entry,
    "DELETE /access/tfa/{userid}/{id}": delete_entry,
}
