"""Users' TFA entries (/access/tfa): pve-access-control src/PVE/API2/TFA.pm over proxmox-tfa
(proxmox-rs proxmox-tfa/src/api/methods.rs, types.rs, recovery.rs; bound by proxmox-perl-rs
pve-rs/src/bindings/tfa.rs). An error of the Rust side reaches the client as perlmod dies with it: its
text and `` at <TFA.pm> line N.`` of the calling line."""

from __future__ import annotations

import json
import logging
import re
import uuid

import pytest

from pvegateway.backends.mock.totp import Totp
from tests.mock.conftest import PVE, login

TFA_PM = "/usr/share/perl5/PVE/API2/TFA.pm"
SECRET = "JBSWY3DPEHPK3PXP"
URI = f"otpauth://totp/pve:jdoe%40pve?secret={SECRET}&issuer=pve"


def add_failed(text: str) -> str:
    return f"{text} at {TFA_PM} line 384.\n"  # TFA.pm:384 api_add_tfa_entry


def test_totp_values_are_rfc_6238s() -> None:
    """RFC 6238 appendix B (SHA1, 8 digits, secret '12345678901234567890')."""
    totp = Totp(b"12345678901234567890", digits=8)
    assert [totp.value(t // 30) for t in (59, 1111111109, 1234567890)] == ["94287082", "07081804", "89005924"]
    assert totp.verify("94287082", 59 + 30) and not totp.verify("94287082", 59 + 90)


async def _totp_value(pve: PVE) -> str:
    now = pve.backend.mock.clock.now()
    return Totp.parse(URI).value(now // 30)


async def test_totp_entry_add_read_update_delete(pve: PVE) -> None:
    added = await pve.data("POST", "/access/tfa/root@pam", {
        "type": "totp", "description": "phone", "totp": URI, "value": await _totp_value(pve)})
    ident = added["id"]
    assert set(added) == {"id"} and uuid.UUID(ident).version == 4  # api/mod.rs TfaEntry::new
    entry = await pve.data("GET", f"/access/tfa/root@pam/{ident}")
    assert entry == {"type": "totp", "id": ident, "description": "phone", "created": entry["created"]}
    assert await pve.data("GET", "/access/tfa/root@pam") == [entry]
    await pve.data("PUT", f"/access/tfa/root@pam/{ident}", {"description": "old phone", "enable": "0"})
    # types.rs TfaInfo: 'enable' is written only when off
    assert await pve.data("GET", f"/access/tfa/root@pam/{ident}") == {**entry, "description": "old phone",
                                                                       "enable": 0}
    assert pve.backend.mock.cluster.users["root@pam"].keys == "x"  # TFA.pm:100-126 set_user_tfa_enabled
    await pve.data("DELETE", f"/access/tfa/root@pam/{ident}")
    assert await pve.data("GET", "/access/tfa/root@pam") == []
    assert await pve.data("GET", "/access/tfa") == []
    assert pve.backend.mock.cluster.users["root@pam"].keys == ""


@pytest.mark.parametrize(("params", "text"), [
    ({"type": "totp", "totp": URI, "value": "000000"}, "'description' is required for new entries"),
    ({"type": "totp", "description": "x", "totp": URI}, "'totp' type requires both 'totp' and 'value' parameters"),
    ({"type": "totp", "description": "x", "totp": "https://x?secret=A", "value": "1"}, "not an otpauth uri"),
    ({"type": "totp", "description": "x", "totp": "otpauth://totp/x?issuer=y", "value": "1"},
     "missing secret in otpauth url"),
    ({"type": "totp", "description": "x", "totp": URI, "challenge": "c"},
     "'challenge' parameter is invalid for 'totp' entries"),
    ({"type": "recovery", "value": "1"}, "generating recovery tokens does not allow additional parameters"),
    ({"type": "webauthn", "description": "key"}, "no webauthn configuration available"),
    ({"type": "webauthn", "totp": URI}, "'totp' parameter is invalid for 'webauthn' entries"),
    ({"type": "u2f", "challenge": "c"}, "missing 'value' parameter (u2f challenge response missing)"),
])
async def test_add_refuses_with_proxmox_tfa_texts(pve: PVE, params: dict[str, str], text: str) -> None:
    """methods.rs add_tfa_entry and its helpers, in their order of checks; nothing is kept."""
    refused = await pve.post("/access/tfa/root@pam", params)
    assert (refused.status_code, refused.json()["message"]) == (500, add_failed(text))
    assert await pve.data("GET", "/access/tfa/root@pam") == []
    assert pve.backend.mock.cluster.users["root@pam"].keys == ""


async def test_a_wrong_totp_value_is_refused(pve: PVE) -> None:
    right = await _totp_value(pve)
    wrong = f"{(int(right) + 1) % 10**6:06d}"
    refused = await pve.post("/access/tfa/root@pam", {"type": "totp", "description": "x", "totp": URI,
                                                      "value": wrong})
    assert refused.json()["message"] == add_failed("failed to verify TOTP challenge")


async def test_recovery_keys_are_shown_once_and_never_logged(pve: PVE, caplog: pytest.LogCaptureFixture) -> None:
    """recovery.rs generate: ten keys of four groups of four hex digits; only keyed hashes are kept."""
    caplog.set_level(logging.DEBUG)
    added = await pve.data("POST", "/access/tfa/root@pam", {"type": "recovery"})
    keys = added["recovery"]
    assert added["id"] == "recovery" and len(set(keys)) == 10
    assert all(re.fullmatch(r"[0-9a-f]{4}(-[0-9a-f]{4}){3}", key) for key in keys)
    listed = await pve.data("GET", "/access/tfa/root@pam")
    assert listed == [{"type": "recovery", "id": "recovery", "created": listed[0]["created"]}]
    seen = json.dumps([await pve.data("GET", "/access/tfa"), pve.backend.dump()]) + caplog.text
    assert not any(key in seen for key in keys)
    again = await pve.post("/access/tfa/root@pam", {"type": "recovery"})
    assert again.json()["message"] == add_failed("user already has recovery keys")
    # pve-access-control src/PVE/API2/User.pm:640: recovery keys are no list, and PVE's loop dies on them
    types = await pve.get("/access/users/root@pam/tfa", {"multiple": "1"})
    assert types.json()["message"] == "Not an ARRAY reference at /usr/share/perl5/PVE/API2/User.pm line 640.\n"
    await pve.data("DELETE", "/access/tfa/root@pam/recovery")
    assert await pve.data("GET", "/access/users/root@pam/tfa", {"multiple": "1"}) == {"user": []}


async def test_unknown_entries(pve: PVE) -> None:
    """TFA.pm:192: 404 for an unknown id; delete and update die with proxmox-tfa's 'no such entry'
    (bindings/tfa.rs) at TFA.pm:234 and :471; the recovery entry cannot be updated (find_entry_mut)."""
    missing = await pve.get("/access/tfa/root@pam/nope")
    assert (missing.status_code, missing.json()["message"]) == (404, "No such tfa entry 'nope'")
    gone = await pve.delete("/access/tfa/root@pam/nope")
    assert gone.json()["message"] == f"no such entry at {TFA_PM} line 234.\n"
    await pve.data("POST", "/access/tfa/root@pam", {"type": "recovery"})
    stuck = await pve.put("/access/tfa/root@pam/recovery", {"enable": "0"})
    assert stuck.json()["message"] == f"no such entry at {TFA_PM} line 471.\n"
    nobody = await pve.post("/access/tfa/nobody@pve", {"type": "recovery"})  # RPCEnvironment.pm:663
    assert nobody.json()["message"] == "no such user ('nobody@pve')\n"


async def test_users_confirm_changes_with_their_own_password(pve: PVE) -> None:
    """RPCEnvironment.pm:657-683 reauth_user_for_user_modification: root@pam needs no password, a user
    confirms with their own, and only root@pam changes root@pam's entries."""
    await pve.data("POST", "/access/users", {"userid": "jdoe@pve", "password": "jdoe-secret"})
    jdoe = PVE(pve.client, pve.app, await login(pve.client, "jdoe@pve", "jdoe-secret"))
    unconfirmed = await jdoe.post("/access/tfa/jdoe@pve", {"type": "recovery"})
    assert unconfirmed.json()["errors"] == {"password": "password is required to modify user"}
    wrong = await jdoe.post("/access/tfa/jdoe@pve", {"type": "recovery", "password": "not-mine"})
    assert wrong.json()["message"] == "invalid credentials\n"
    await jdoe.data("POST", "/access/tfa/jdoe@pve", {"type": "recovery", "password": "jdoe-secret"})
    assert [u["userid"] for u in await jdoe.data("GET", "/access/tfa")] == ["jdoe@pve"]
    assert (await jdoe.post("/access/tfa/root@pam", {"type": "recovery", "password": "jdoe-secret"})
            ).status_code == 403
    await pve.data("DELETE", "/access/users/jdoe@pve")  # User.pm:546-548: the entries go with the user
    assert await pve.data("GET", "/access/tfa") == []
