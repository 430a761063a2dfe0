"""Mock handlers: HA resources (pve-ha-manager ``src/PVE/API2/HA/Resources.pm``)."""

from __future__ import annotations

import re
import time
from typing import Any

from ....errors import PVEError
from ...base import Call
from ..runtime import Mock
from ..state import config_digest
from ..store.defaults import HA_GROUPS, section

_OPTIONS = ("comment", "group", "max_relocate", "max_restart", "state", "failback", "auto-rebalance")


def parse_sid(mock: Mock, text: str) -> tuple[str, str, str]:
    """``PVE::HA::Config::parse_sid``: ``100`` becomes ``vm:100``/``ct:100`` when the guest exists."""
    if text.isdigit():
        guest = mock.cluster.guests.get(int(text))
        if guest is None:
            raise PVEError(500, f"unable do detect SID from VMID - VM/CT {text} does not exist\n")
        kind = "vm" if guest.kind == "qemu" else "ct"
        return f"{kind}:{text}", kind, text
    match = re.fullmatch(r"(\S+):(\S+)", text)
    if not match:
        raise PVEError(500, f"unable to parse service id '{text}'\n")
    return text, match.group(1), match.group(2)


def _check_exists(mock: Mock, kind: str, name: str) -> None:
    guest = mock.cluster.guests.get(int(name)) if name.isdigit() else None
    if guest is None or (guest.kind == "qemu") != (kind == "vm"):
        raise PVEError(500, f"resource '{kind}:{name}' does not exist in cluster\n")


def _digest(mock: Mock) -> str:
    flat = {sid: ",".join(f"{k}={v}" for k, v in sorted(cfg.items())) for sid, cfg in mock.cluster.ha.items()}
    return config_digest(flat)


def _copy(mock: Mock, sid: str, digest: str) -> dict[str, Any]:
    config = mock.cluster.ha[sid]
    out: dict[str, Any] = {"sid": sid, "type": sid.split(":", 1)[0], "digest": digest, "state": "started"}
    out.update(config)
    return out


def _options(params: Any) -> dict[str, Any]:
    return {k: params[k] for k in _OPTIONS if params.get(k) is not None}


def _check_group(mock: Mock, params: Any) -> None:
    """Resources.pm:258-265: a 9.x cluster without HA groups has migrated them to rules."""
    group = params.get("group")
    if not group:
        return
    groups = section(mock.cluster, HA_GROUPS, {})
    if not groups:
        raise PVEError(500, "invalid parameter 'group': ha groups have been migrated to rules\n")
    if group not in groups:
        raise PVEError(500, f"HA group '{group}' does not exist\n")


def index(mock: Mock, call: Call) -> list[dict[str, Any]]:
    wanted = call.params.get("type")
    digest = _digest(mock)
    return [_copy(mock, sid, digest) for sid in sorted(mock.cluster.ha)
            if not wanted or sid.split(":", 1)[0] == wanted]


def read(mock: Mock, call: Call) -> dict[str, Any]:
    sid, _kind, _name = parse_sid(mock, str(call.params["sid"]))
    if sid not in mock.cluster.ha:
        raise PVEError.params({"sid": f"no such resource '{sid}'"})
    return _copy(mock, sid, _digest(mock))


def create(mock: Mock, call: Call) -> None:
    params = call.params
    sid, kind, name = parse_sid(mock, str(params["sid"]))
    if params.get("type") and params["type"] != kind:
        raise PVEError(500, "types does not match\n")
    if kind not in ("vm", "ct"):
        raise PVEError(500, f"unknown resource type '{kind}'\n")
    _check_exists(mock, kind, name)
    _check_group(mock, params)
    if sid in mock.cluster.ha:
        raise PVEError(500, f"resource ID '{sid}' already defined\n")
    mock.cluster.ha[sid] = _options(params)


def update(mock: Mock, call: Call) -> None:
    params = call.params
    sid, kind, _name = parse_sid(mock, str(params["sid"]))
    if params.get("type") and params["type"] != kind:
        raise PVEError(500, "types does not match\n")
    _check_group(mock, params)
    digest = params.get("digest")
    if digest and digest != _digest(mock):
        raise PVEError(500, "detected modified configuration - file changed by other user? Try again.\n")
    config = mock.cluster.ha.get(sid)
    if config is None:
        raise PVEError(500, f"no such resource '{sid}'\n")
    deletes = [k for k in re.split(r"[,;\s]+", str(params.get("delete") or "")) if k]
    for key in deletes:
        if key not in _OPTIONS:
            raise PVEError(500, f"no such option '{key}'\n")
    config.update(_options(params))
    for key in deletes:
        config.pop(key, None)


def delete(mock: Mock, call: Call) -> None:
    sid, _kind, _name = parse_sid(mock, str(call.params["sid"]))
    if sid not in mock.cluster.ha:
        raise PVEError(500, f"resource '{sid}' is not HA managed\n")
    del mock.cluster.ha[sid]


def status_current(mock: Mock, call: Call) -> list[dict[str, Any]]:
    """A quiet, healthy HA stack: quorum, a master, every LRM active, each resource in its state."""
    now = mock.clock.now()
    nodes = sorted(mock.cluster.nodes)
    master = nodes[0] if nodes else "localhost"
    out: list[dict[str, Any]] = [{"id": "quorum", "type": "quorum", "node": master, "status": "OK", "quorate": 1}]
    if mock.cluster.ha:
        out.append({"id": f"master:{master}", "type": "master", "node": master, "timestamp": now,
                    "status": f"{master} (active, {_stamp(now)})"})
        for name in nodes:
            out.append({"id": f"lrm:{name}", "type": "lrm", "node": name, "timestamp": now,
                        "status": f"{name} (active, {_stamp(now)})"})
    for sid in sorted(mock.cluster.ha):
        config = mock.cluster.ha[sid]
        vmid = int(sid.split(":", 1)[1]) if sid.split(":", 1)[1].isdigit() else -1
        guest = mock.cluster.guests.get(vmid)
        node = guest.node if guest else master
        state = str(config.get("state", "started"))
        shown = {"enabled": "started", "disabled": "stopped"}.get(state, state)
        out.append({"id": f"service:{sid}", "type": "service", "sid": sid, "node": node, "state": shown,
                    "request_state": state, "crm_state": shown, "max_restart": int(config.get("max_restart", 1)),
                    "max_relocate": int(config.get("max_relocate", 1)),
                    "status": f"{sid} ({node}, {shown})"})
    return out


def _stamp(now: int) -> str:
    return time.strftime("%a %b %e %H:%M:%S %Y", time.gmtime(now))
