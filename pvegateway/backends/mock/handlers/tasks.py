"""Mock handlers: worker tasks (pve-manager ``PVE/API2/Tasks.pm``) and ``GET /cluster/tasks``."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from ....errors import PVEError
from ...base import Call, Result
from ..runtime import Handler, Mock, user_of
from ..state import Task
from . import _tasklog
from ._params import flag

# pve-common UPID.pm decode: node, pid, pstart (8-9 hex digits), starttime, type, id, user
_UPID = re.compile(r"^UPID:([a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?):([0-9A-Fa-f]{8}):([0-9A-Fa-f]{8,9}):"
                   r"([0-9A-Fa-f]{8}):([^:\s]+):([^:\s]*):([^:\s]+):$")
_STATUS_TYPES = ("ok", "warning", "error", "unknown")
_INTERRUPTED = "received interrupt"


def _split_user(user: str) -> dict[str, str]:
    if "!" in user:
        userid, _, tokenid = user.partition("!")
        return {"user": userid, "tokenid": tokenid}
    return {"user": user}


def _decoded(task: Task) -> dict[str, Any]:
    """What ``upid_decode`` yields, with the token split off like ``$convert_token_task``."""
    return {"upid": task.upid, "node": task.node, "pid": task.pid, "pstart": task.pstart,
            "starttime": task.starttime, "type": task.type, "id": task.id, **_split_user(task.user)}


def _list_status(task: Task) -> str | None:
    """The status column of the task index: ``OK``, the error text or ``WARNINGS: N``."""
    return task.exitstatus if task.status == "stopped" else None


def status_type(status: str | None) -> str:
    """``upid_normalize_status_type``."""
    if not status or status == "unexpected status":
        return "unknown"
    if status == "OK":
        return "ok"
    if re.fullmatch(r"WARNINGS: \d+", status):
        return "warning"
    return "error"


def _task(mock: Mock, call: Call) -> Task:
    upid = str(call.params["upid"])
    if not _UPID.match(upid):
        raise PVEError.params({"upid": "unable to parse worker upid"})
    task = mock.cluster.find_task(upid)
    if task is None or task.node != upid.split(":")[1]:
        raise PVEError.params({"upid": "no such task"})
    return task


def _owner(task: Task, call: Call) -> bool:
    return task.user == user_of(call)


def _check(mock: Mock, call: Call, task: Task, priv: str) -> None:
    """Tasks of someone else need ``priv`` on ``/nodes/<node>`` (``$check_task_user``)."""
    if _owner(task, call) or call.identity is None:
        return
    node = str(call.params["node"])
    if priv not in mock.permissions.privileges(call.identity, f"/nodes/{node}"):
        raise PVEError(403, f"Permission check failed (/nodes/{node}, {priv})\n")


def _status_filter(params: Any) -> set[str]:
    if params.get("errors"):
        return {"warning", "error", "unknown"}
    if params.get("statusfilter") is not None:
        return {s.strip().lower() for s in re.split(r"[;,\s]+", str(params["statusfilter"])) if s.strip()}
    return set(_STATUS_TYPES)


def _select(mock: Mock, call: Call, tasks: Iterable[Task], *, auditor: bool) -> tuple[list[dict[str, Any]], int]:
    params = call.params
    start = int(params.get("start") or 0)
    limit = int(params.get("limit") or 50)
    userfilter = str(params.get("userfilter") or "").lower()
    typefilter = params.get("typefilter")
    vmid = params.get("vmid")
    since, until = params.get("since"), params.get("until")
    statuses = _status_filter(params)
    me = user_of(call)
    count = 0
    out: list[dict[str, Any]] = []
    for task in tasks:
        if userfilter and userfilter not in task.user.lower():
            continue
        if not auditor and task.user != me:
            continue
        if typefilter and task.type != typefilter:
            continue
        if vmid and task.id != str(vmid):
            continue
        if since is not None and task.starttime < int(since):
            continue
        if until is not None and task.starttime > int(until):
            continue
        if status_type(_list_status(task)) not in statuses:
            continue
        count += 1
        if count <= start or limit <= 0:
            continue
        item = _decoded(task)
        if task.status == "stopped":
            item["endtime"] = task.endtime
            item["status"] = task.exitstatus
        else:
            item["status"] = "RUNNING"
        out.append(item)
        limit -= 1
    return out, count


def node_tasks(mock: Mock, call: Call) -> Result:
    node = mock.node(str(call.params["node"])).name
    source = str(call.params.get("source") or "archive")
    auditor = call.identity is None or "Sys.Audit" in mock.permissions.privileges(call.identity, f"/nodes/{node}")
    log = list(reversed(mock.cluster.task_log(node).values()))
    active = [t for t in log if t.status == "running"] if source in ("active", "all") else []
    archive = [t for t in log if t.status == "stopped"] if source != "active" else []
    data, count = _select(mock, call, [*active, *archive], auditor=auditor)
    return Result(data, total=count or None)


def upid_index(mock: Mock, call: Call) -> list[dict[str, str]]:
    return [{"name": "log"}, {"name": "status"}]


def task_status(mock: Mock, call: Call) -> dict[str, Any]:
    task = _task(mock, call)
    _check(mock, call, task, "Sys.Audit")
    mock.tasks.poll(task)
    answer = _decoded(task)
    answer["status"] = task.status
    if task.status == "stopped":
        answer["exitstatus"] = task.exitstatus
    return answer


def task_log(mock: Mock, call: Call) -> Any:
    task = _task(mock, call)
    _check(mock, call, task, "Sys.Audit")
    params = call.params
    if flag(params.get("download")):
        if params.get("start") is not None or params.get("limit") is not None:
            raise PVEError(500, "'download' cannot be used together with 'start' or 'limit' parameters\n")
        return _tasklog.download(task)
    start = int(params.get("start") or 0)
    limit = int(params["limit"]) if params.get("limit") is not None else 50
    lines = task.log
    chosen = lines[start:] if limit == 0 else lines[start:start + limit]
    data = [{"n": start + i + 1, "t": text} for i, text in enumerate(chosen)]
    if not lines:
        return Result([{"n": 1, "t": "no content"}], total=1)
    return Result(data, total=len(lines))


def stop_task(mock: Mock, call: Call) -> None:
    task = _task(mock, call)
    _check(mock, call, task, "Sys.Modify")
    mock.tasks.interrupt(task, _INTERRUPTED)  # a killed worker does not get to apply its effect
    return None


def cluster_tasks(mock: Mock, call: Call) -> list[dict[str, Any]]:
    """``GET /cluster/tasks``: the recent tasks of every node, newest first (pve-manager Cluster.pm)."""
    me = user_of(call)
    everyone = mock.permissions.check(call.identity, "/", ["Sys.Audit"], noerr=True)  # Cluster.pm:758-766
    out: list[dict[str, Any]] = []
    tasks = sorted((t for log in mock.cluster.tasks.values() for t in log.values()),
                   key=lambda t: (t.starttime, t.pid), reverse=True)
    for task in tasks:
        if not everyone and task.user != me:
            continue
        item = _decoded(task)
        if task.status == "stopped":
            item["endtime"] = task.endtime
            item["status"] = task.exitstatus
        out.append(item)
    return out


ROUTES: dict[tuple[str, str], Handler] = {
    ("GET", "/nodes/{node}/tasks"): node_tasks,
    ("GET", "/nodes/{node}/tasks/{upid}"): upid_index,
    ("GET", "/nodes/{node}/tasks/{upid}/status"): task_status,
    ("GET", "/nodes/{node}/tasks/{upid}/log"): task_log,
    ("DELETE", "/nodes/{node}/tasks/{upid}"): stop_task,
    ("GET", "/cluster/tasks"): cluster_tasks,
}
