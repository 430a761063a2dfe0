"""VM operations that go through QEMU's monitor or plain config edits: ``sendkey`` and ``unlink``."""

from __future__ import annotations

import dataclasses
import re

from ....errors import PVEError
from ...base import Call
from ..runtime import Mock
from ._guest_common import QEMU, guest_of
from ._guest_config import update
from ._params import flag, id_list

# QEMU's QKeyCode names (qapi/ui.json), what HMP's sendkey takes besides hex key codes
_KEYS = frozenset([
    "unmapped", "shift", "shift_r", "alt", "alt_r", "ctrl", "ctrl_r", "menu", "esc", "minus", "equal",
    "backspace", "tab", "bracket_left", "bracket_right", "ret", "semicolon", "apostrophe", "grave_accent",
    "backslash", "comma", "dot", "slash", "asterisk", "spc", "caps_lock", "num_lock", "scroll_lock",
    "kp_divide", "kp_multiply", "kp_subtract", "kp_add", "kp_enter", "kp_decimal", "sysrq", "less", "home",
    "pgup", "pgdn", "end", "left", "up", "down", "right", "insert", "delete", "stop", "again", "props", "undo",
    "front", "copy", "open", "paste", "find", "cut", "lf", "help", "meta_l", "meta_r", "compose", "pause", "ro",
    "hiragana", "henkan", "yen", "muhenkan", "katakanahiragana", "kp_comma", "kp_equals", "power", "sleep",
    "wake", "audionext", "audioprev", "audiostop", "audioplay", "audiomute", "volumeup", "volumedown",
    "mediaselect", "mail", "calculator", "computer", "ac_home", "ac_back", "ac_forward", "ac_refresh",
    "ac_bookmarks", "lang1", "lang2"]
    + list("abcdefghijklmnopqrstuvwxyz0123456789") + [f"f{i}" for i in range(1, 25)]
    + [f"kp_{i}" for i in range(10)])
_HEX = re.compile(r"0x[0-9a-fA-F]+")


def sendkey(mock: Mock, call: Call) -> None:
    """qemu-server API2/Qemu.pm vm_sendkey, QemuServer.pm:6401-6415: no lock check; the monitor
    command fails for a VM that does not run (Monitor.pm:80-81) and HMP answers a bad key with text."""
    guest = guest_of(mock, call, QEMU)
    if flag(call.params.get("skiplock")) and (call.identity is None or call.identity.authid != "root@pam"):
        raise PVEError.params({"skiplock": "Only root may use this option."})
    if guest.status == "stopped":
        raise PVEError(500, f"VM {guest.vmid} not running\n")
    key = str(call.params["key"])
    if not all(part in _KEYS or _HEX.fullmatch(part) for part in key.split("-")):
        raise PVEError(500, f"invalid parameter: {key}\n")  # QEMU monitor/hmp-cmds.c hmp_sendkey


def unlink(mock: Mock, call: Call) -> None:
    """qemu-server API2/Qemu.pm unlink: update_vm with the ids as ``delete`` (and ``force``)."""
    guest = guest_of(mock, call, QEMU)
    ids = id_list(call.params.get("idlist"))
    params = {k: v for k, v in call.params.items() if k != "idlist"}
    params["delete"] = ",".join(ids)
    # update_vm knows every config option; the ids here name what the VM has (or keys of volumes)
    known = set(guest.config) | set(guest.pending) | {i for i in ids if QEMU.is_volume_key(i)}
    update(mock, dataclasses.replace(call, params=params), QEMU, guest, known)
