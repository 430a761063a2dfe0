"""Mock handlers: HA resources (pve-ha-manager ``src/PVE/API2/HA/Resources.pm``)."""

from __future__ import annotations

import hashlib
import re
import time
from typing import Any

from ....errors import PVEError
from ...base import Call
from ..runtime import Handler, Mock
from ..state import config_digest
from ..store import ha_rules
from ..store.defaults import HA_GROUPS, section
from ._guest_ops import move_to
from ._params import flag

_OPTIONS = ("comment", "group", "max_relocate", "max_restart", "state", "failback", "auto-rebalance")


def parse_sid(mock: Mock, text: str) -> tuple[str, str, str]:
    """``PVE::HA::Config::parse_sid`` (src/PVE/HA/Config.pm:189-213): ``100`` becomes ``vm:100``/``ct:100``
    when the guest exists."""
    if text.isdigit():
        guest = mock.cluster.guests.get(int(text))
        if guest is None:
            raise PVEError(500, f"unable to detect SID from VMID - VM/CT {text} does not exist\n")
        kind = "vm" if guest.kind == "qemu" else "ct"
        return f"{kind}:{text}", kind, text
    match = re.fullmatch(r"(\S+):(\S+)", text)
    if not match:
        raise PVEError(500, f"unable to parse service id '{text}'\n")
    return text, match.group(1), match.group(2)


def _check_exists(mock: Mock, kind: str, name: str) -> None:
    """src/PVE/HA/Resources/PVEVM.pm:32, :52-67 and PVECT.pm (verify_name, then exists)."""
    if not re.fullmatch(r"[1-9][0-9]+", name):
        raise PVEError(500, "invalid VMID\n")
    guest = mock.cluster.guests.get(int(name))
    if guest is None:
        raise PVEError(500, f"resource '{kind}:{name}' does not exist in cluster\n")
    if (guest.kind == "qemu") != (kind == "vm"):
        what = "a VM" if kind == "vm" else "a container"
        raise PVEError(500, f"resource '{kind}:{name}' - guest with ID {name} is not {what}\n")


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


def _groups(mock: Mock) -> dict[str, Any]:
    return section(mock.cluster, HA_GROUPS, {})


def _check_group(mock: Mock, params: Any, creating: bool) -> None:
    """src/PVE/API2/HA/Resources.pm:202-203 (create: refused once groups are rules, never looked up) and
    :257-265 (update: also the group must exist); a 9.x cluster without HA groups has migrated them
    (Config.pm:261-268)."""
    group = params.get("group")
    if group is None or (not creating and not group):
        return
    groups = _groups(mock)
    if not groups:
        raise PVEError(500, "invalid parameter 'group': ha groups have been migrated to rules\n")
    if not creating and group not in groups:
        raise PVEError(500, f"HA group '{group}' does not exist\n")


def index(mock: Mock, call: Call) -> list[dict[str, Any]]:
    wanted = call.params.get("type")
    digest = _digest(mock)
    return [_copy(mock, sid, digest) for sid in sorted(mock.cluster.ha)
            if not wanted or sid.split(":", 1)[0] == wanted]


def read(mock: Mock, call: Call) -> dict[str, Any]:
    sid, _kind, _name = parse_sid(mock, str(call.params["sid"]))
    if sid not in mock.cluster.ha:
        raise PVEError(500, f"no such resource '{sid}'\n")  # src/PVE/API2/HA/Resources.pm:27
    return _copy(mock, sid, _digest(mock))


def create(mock: Mock, call: Call) -> None:
    """src/PVE/API2/HA/Resources.pm:188-230, in its order; the duplicate check under the lock's prefix."""
    params = call.params
    sid, kind, name = parse_sid(mock, str(params["sid"]))
    if params.get("type") and params["type"] != kind:
        raise PVEError(500, "types does not match\n")
    _check_group(mock, params, creating=True)
    if kind not in ("vm", "ct"):  # PVE::HA::Resources->lookup (pve-common SectionConfig.pm:993)
        raise PVEError(500, f"unknown section type '{kind}'\n")
    _check_exists(mock, kind, name)
    if sid in mock.cluster.ha:
        raise PVEError(500, f"create resource failed: resource ID '{sid}' already defined\n")
    mock.cluster.ha[sid] = _options(params)


def update(mock: Mock, call: Call) -> None:
    """src/PVE/API2/HA/Resources.pm:244-278 and update_resources_config (src/PVE/HA/Config.pm:139-187):
    the digest, the resource and the deleted options are checked under the lock's prefix."""
    params = call.params
    sid, kind, _name = parse_sid(mock, str(params["sid"]))
    if params.get("type") and params["type"] != kind:
        raise PVEError(500, "types does not match\n")
    _check_group(mock, params, creating=False)
    prefix = "update resources config failed: "
    digest = params.get("digest")
    if digest and digest != _digest(mock):
        raise PVEError(500, f"{prefix}detected modified configuration - file changed by other user? Try again.\n")
    config = mock.cluster.ha.get(sid)
    if config is None:
        raise PVEError(500, f"{prefix}no such resource '{sid}'\n")
    deletes = [k for k in re.split(r"[,;\s]+", str(params.get("delete") or "")) if k]
    for key in deletes:
        if key not in _OPTIONS:
            raise PVEError(500, f"{prefix}no such option '{key}'\n")
    config.update(_options(params))
    for key in deletes:
        config.pop(key, None)


def delete(mock: Mock, call: Call) -> None:
    """src/PVE/API2/HA/Resources.pm:307-320; ``purge`` (default 1) also takes the resource out of the rules
    (src/PVE/HA/Config.pm:437-465)."""
    sid, _kind, _name = parse_sid(mock, str(call.params["sid"]))
    if sid not in mock.cluster.ha:
        raise PVEError(500, f"cannot delete service '{sid}', not HA managed!\n")
    del mock.cluster.ha[sid]
    if flag(call.params.get("purge"), default=True):
        ha_rules.drop_resource(mock.cluster, sid)


# --- migrate and relocate (src/PVE/API2/HA/Resources.pm:393-519) ---------------------------------------

def managed(mock: Mock, sid: str) -> dict[str, Any]:
    """src/PVE/HA/Config.pm:352-378, :480-490 service_is_ha_managed: an ignored resource is not managed."""
    config = mock.cluster.ha.get(sid)
    if config is None or config.get("state") == "ignored":
        raise PVEError(500, f"resource '{sid}' is not HA managed\n")
    return config


def _node_of(mock: Mock, sid: str) -> str | None:
    name = sid.split(":", 1)[1]
    guest = mock.cluster.guests.get(int(name)) if name.isdigit() else None
    return guest.node if guest is not None else None


def motion(verb: str) -> Handler:
    """Queue ``migrate``/``relocate``: the answer names the resources that go along (positive affinity) and
    those that block the target node (negative affinity, src/PVE/HA/Config.pm:391-434). The CRM then
    moves them (the mock at once): online for ``migrate``, stopped and started again for ``relocate``;
    it ignores a command for the node the resource is on, for a node not in the cluster, or one a
    blocking resource holds."""
    def handler(mock: Mock, call: Call) -> dict[str, Any]:
        sid, _kind, _name = parse_sid(mock, str(call.params["sid"]))
        target = str(call.params["node"])
        managed(mock, sid)
        rules = section(mock.cluster, ha_rules.RULES, {})
        with_it, apart = ha_rules.together_with(rules, sid)
        comigrated = sorted(s for s in with_it if _shown_in_status(mock, s))
        blocking = [{"sid": s, "cause": "resource-affinity"} for s in sorted(apart)
                    if _shown_in_status(mock, s) and _node_of(mock, s) == target]
        result: dict[str, Any] = {"sid": sid, "requested-node": target}
        if comigrated:
            result["comigrated-resources"] = comigrated
        if blocking:
            result["blocking-resources"] = blocking
        elif target in mock.cluster.nodes:
            for moving in [sid, *comigrated]:
                _move(mock, moving, target, restart=verb == "relocate")
        return result
    return handler


def _shown_in_status(mock: Mock, sid: str) -> bool:
    config = mock.cluster.ha.get(sid)
    return config is not None and config.get("state") != "ignored"


def _move(mock: Mock, sid: str, target: str, restart: bool) -> None:
    name = sid.split(":", 1)[1]
    guest = mock.cluster.guests.get(int(name)) if name.isdigit() else None
    if guest is None or guest.node == target:
        return  # the CRM ignores it ("service already on target node", Manager.pm)
    move_to(mock, guest, target)
    if restart and guest.status != "stopped":
        guest.started = mock.clock.now()


# --- the manager's status (src/PVE/API2/HA/Status.pm) -----------------------------------------------------

def _service_status(mock: Mock) -> dict[str, dict[str, Any]]:
    """What the CRM keeps per resource in manager_status: the node, its state, whether it runs; ignored
    resources are out of its hands (src/PVE/HA/Manager.pm)."""
    out: dict[str, dict[str, Any]] = {}
    for sid in sorted(mock.cluster.ha):
        config = mock.cluster.ha[sid]
        request = str(config.get("state", "started"))
        if request == "ignored":
            continue
        name = sid.split(":", 1)[1]
        guest = mock.cluster.guests.get(int(name)) if name.isdigit() else None
        state = "started" if request in ("started", "enabled") else request
        entry: dict[str, Any] = {"node": guest.node if guest else None, "state": state,
                                 "uid": hashlib.md5(sid.encode(), usedforsecurity=False).hexdigest()[:22]}
        if state == "started":
            entry["running"] = 1 if guest is not None and guest.status != "stopped" else 0
        out[sid] = entry
    return out


def manager_status(mock: Mock, call: Call) -> dict[str, Any]:
    """GET /cluster/ha/status/manager_status (Status.pm:374-392): the CRM's status file, the quorum and each
    node's LRM status. A cluster that never had an HA resource has an empty status (no CRM was master)."""
    nodes = sorted(mock.cluster.nodes)
    local = nodes[0] if nodes else "localhost"
    data: dict[str, Any] = {"quorum": {"node": local, "quorate": 1}}
    if not mock.cluster.ha:
        data["manager_status"] = {}
        return data
    now = mock.clock.now()
    services = _service_status(mock)
    data["manager_status"] = {"master_node": local, "timestamp": now, "node_status": dict.fromkeys(nodes, "online"),
                              "service_status": services}
    data["lrm_status"] = {n: _lrm(n, services, now) for n in nodes}
    return data


def _lrm(node: str, services: dict[str, dict[str, Any]], now: int) -> dict[str, Any]:
    """An LRM holds its agent lock (state active) while it has a service, else it waits for it."""
    active = any(s["node"] == node for s in services.values())
    return {"mode": "active", "state": "active" if active else "wait_for_agent_lock", "timestamp": now,
            "results": {}}


def status_current(mock: Mock, call: Call) -> list[dict[str, Any]]:
    """GET /cluster/ha/status/current (src/PVE/API2/HA/Status.pm:166-358): quorum, master, fencing, one LRM
    row per node and one row per resource, from the manager status above (a healthy, quiet stack)."""
    status = manager_status(mock, call)
    local = status["quorum"]["node"]
    out: list[dict[str, Any]] = [{"id": "quorum", "type": "quorum", "node": local, "status": "OK", "quorate": 1}]
    manager = status["manager_status"]
    if not manager:
        out.append({"id": "fencing", "type": "fencing", "node": local, "status": "standby (CRM watchdog standby)",
                    "armed-state": "standby"})
        return out
    now, master = manager["timestamp"], manager["master_node"]
    out.append({"id": "master", "type": "master", "node": master, "timestamp": now,
                "status": f"{master} (active, {_stamp(now)})"})
    out.append({"id": "fencing", "type": "fencing", "node": master, "status": "armed (CRM watchdog active)",
                "armed-state": "armed"})
    services = manager["service_status"]
    for node, lrm in status["lrm_status"].items():
        state = "active" if lrm["state"] == "active" else "idle"
        watchdog = "watchdog active" if lrm["state"] == "active" else "watchdog standby"
        out.append({"id": f"lrm:{node}", "type": "lrm", "node": node, "timestamp": lrm["timestamp"],
                    "status": f"{node} ({state}, {watchdog}, {_stamp(lrm['timestamp'])})"})
    for sid in sorted(mock.cluster.ha):
        out.append(_service_row(mock, sid, services.get(sid)))
    return out


def _service_row(mock: Mock, sid: str, service: dict[str, Any] | None) -> dict[str, Any]:
    """Status.pm:309-342 with src/PVE/HA/Tools.pm:216-252 get_verbose_service_state."""
    config = mock.cluster.ha[sid]
    request = str(config.get("state", "started"))
    request = "started" if request == "enabled" else request
    row: dict[str, Any] = {"id": f"service:{sid}", "type": "service", "sid": sid}
    node = _node_of(mock, sid)
    if service is not None:
        row["node"], row["crm_state"] = service["node"], service["state"]
    elif node is not None:
        row["node"] = node
    if request == "ignored":
        state = "ignored"
    elif node is None:
        state = "not found"
    elif service is None:
        state = "queued"
    else:
        state = service["state"]
        if state == "stopped" and request == "disabled":
            state = "disabled"
        elif state == "started" and not service.get("running"):
            state = "starting"
    row["state"] = state
    row["status"] = f"{sid} ({row.get('node') or '---'}, {state})"
    row["request_state"] = request
    defaults = {"failback": 1, "max_restart": 1, "max_relocate": 1}  # Config.pm:118-122
    for key in ("group", "max_restart", "max_relocate", "failback", "comment"):
        value = config.get(key, defaults.get(key))
        if value is not None:
            row[key] = int(value) if key in defaults else value
    return row


def _stamp(now: int) -> str:
    return time.strftime("%a %b %e %H:%M:%S %Y", time.gmtime(now))
