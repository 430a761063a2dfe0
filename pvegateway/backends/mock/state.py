"""The mock cluster's state: one resettable object, indexed so lookups stay O(1) as it grows.

Everything a request can change lives here and nowhere else. Guest and storage configs are kept as PVE
keeps them: ``{key: property-string}``, so what a client PUTs is what it GETs back.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Literal

from .faults import Fault
from .store.data import ConfigData

GuestKind = Literal["qemu", "lxc"]
TASK_HISTORY = 1000  # per node, like the size PVE's task index is trimmed to


def config_digest(config: dict[str, Any]) -> str:
    """SHA1 over the config as PVE writes it (``key: value`` lines); what ``digest`` compares."""
    text = "".join(f"{k}: {config[k]}\n" for k in sorted(config))
    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()  # PVE's digest is SHA1: a change check


@dataclass
class Node:
    name: str
    ip: str
    cpus: int = 8
    sockets: int = 1
    memory: int = 32 * 1024**3
    online: bool = True  # False: offline, as a node that is powered off (the control API's faults)
    bridges: list[str] = field(default_factory=lambda: ["vmbr0"])
    # pve-manager's version and repository id on this node (a cluster mid-upgrade runs several); None:
    # the version the mock answers as (handlers/nodes.py)
    version: str | None = None
    repoid: str | None = None


@dataclass
class Volume:
    volid: str
    storage: str
    node: str
    content: str
    size: int
    format: str = "raw"
    vmid: int | None = None
    ctime: int = 0
    notes: str = ""
    protected: bool = False
    config: dict[str, str] | None = None  # a backup's: the guest configuration it records


@dataclass
class Storage:
    storage: str
    type: str
    content: list[str]
    config: dict[str, Any] = field(default_factory=dict)
    nodes: list[str] | None = None  # None: every node
    shared: bool = False
    total: int = 100 * 1024**3
    full: bool = False  # a fault: no space left (avail 0, new volumes fail), whatever its volumes take
    # volumes by node (a shared storage keeps them under "") and volid
    volumes: dict[str, dict[str, Volume]] = field(default_factory=dict)

    def available_on(self, node: str) -> bool:
        return self.nodes is None or node in self.nodes

    def bucket(self, node: str) -> dict[str, Volume]:
        return self.volumes.setdefault("" if self.shared else node, {})

    def used(self, node: str) -> int:
        return sum(v.size for v in self.bucket(node).values())


@dataclass
class Snapshot:
    name: str
    config: dict[str, Any]
    parent: str | None
    snaptime: int
    description: str = ""
    vmstate: bool = False


@dataclass
class Guest:
    vmid: int
    kind: GuestKind
    node: str
    config: dict[str, Any]
    status: str = "stopped"  # running | stopped | paused (qemu)
    pending: dict[str, Any] = field(default_factory=dict)
    pending_delete: list[str] = field(default_factory=list)
    snapshots: OrderedDict[str, Snapshot] = field(default_factory=OrderedDict)
    parent: str | None = None  # the snapshot "current" hangs under
    started: int = 0
    pid: int = 0
    lock: str | None = None
    pool: str | None = None
    # a VM's [special:cloudinit] section: the values its cloud-init image was made with, "added" keys
    cloudinit: dict[str, str] = field(default_factory=dict)

    @property
    def template(self) -> bool:
        return str(self.config.get("template", "0")) == "1"

    @property
    def name(self) -> str:
        key = "name" if self.kind == "qemu" else "hostname"
        return str(self.config.get(key, f"{'VM' if self.kind == 'qemu' else 'CT'} {self.vmid}"))

    @property
    def digest(self) -> str:
        return config_digest(self.config)


@dataclass
class Token:
    tokenid: str
    secret: str
    privsep: bool = True
    expire: int = 0
    comment: str = ""


@dataclass
class User:
    userid: str
    enable: bool = True
    expire: int = 0
    firstname: str = ""
    lastname: str = ""
    email: str = ""
    comment: str = ""
    password: str | None = None  # plain text: a mock has nothing to protect
    groups: list[str] = field(default_factory=list)
    tokens: dict[str, Token] = field(default_factory=dict)
    keys: str = ""


@dataclass
class Group:
    groupid: str
    comment: str = ""


@dataclass
class Role:
    roleid: str
    privs: frozenset[str]
    special: bool = False


@dataclass(frozen=True)
class AclEntry:
    path: str
    ugid: str  # user id, token id (user@realm!name) or group id
    kind: Literal["user", "group", "token"]
    roleid: str
    propagate: bool = True


@dataclass
class Pool:
    poolid: str
    comment: str = ""
    vmids: list[int] = field(default_factory=list)
    storages: list[str] = field(default_factory=list)


@dataclass
class Task:
    upid: str
    node: str
    pid: int
    pstart: int
    starttime: int
    type: str
    id: str
    user: str
    log: list[str] = field(default_factory=list)
    status: str = "running"  # running | stopped
    exitstatus: str | None = None
    endtime: int | None = None
    polls_left: int = 0  # status reads before it stops (deterministic progression)
    done_at: float | None = None  # or a clock time after which it stops
    outcome: str = "OK"
    finish: Any = None  # a callable applied when the task stops (e.g. the guest starts)
    cancel: Any = None  # a callable undoing the call's early effects if the task is stopped first
    held: bool = False  # a console's worker: the progression never stops it, its session does


@dataclass
class AgentProcess:
    """A command the guest agent ran (``guest-exec``): what ``guest-exec-status`` reports, once exited."""

    exitcode: int
    out: bytes = b""
    err: bytes = b""
    ends: int = 0  # clock time when it has exited


@dataclass
class GuestAgent:
    """What the QEMU guest agent inside one VM keeps: files written through it, processes it started,
    whether the file systems are frozen. The guest's runtime, so a dump leaves it out."""

    files: dict[str, bytes] = field(default_factory=dict)
    processes: dict[int, AgentProcess] = field(default_factory=dict)
    next_pid: int = 1000
    frozen: bool = False
    boot: int = 0  # the guest's start time these belong to: a new boot forgets processes and the freeze
    identity: str = ""  # the VM's smbios1 (its UUID): another VM under the same VMID has its own agent


@dataclass
class Cluster:
    """The whole fake cluster: nodes, storages, guests, access control, pools, HA, tasks."""

    name: str = "pvegw"
    nodes: dict[str, Node] = field(default_factory=dict)
    storages: dict[str, Storage] = field(default_factory=dict)
    guests: dict[int, Guest] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    groups: dict[str, Group] = field(default_factory=dict)
    roles: dict[str, Role] = field(default_factory=dict)
    acl: dict[tuple[str, str, str], AclEntry] = field(default_factory=dict)  # (path, ugid, roleid)
    pools: dict[str, Pool] = field(default_factory=dict)
    ha: dict[str, dict[str, Any]] = field(default_factory=dict)
    tasks: dict[str, OrderedDict[str, Task]] = field(default_factory=dict)  # node -> upid -> task
    options: dict[str, Any] = field(default_factory=dict)
    store: ConfigData = field(default_factory=ConfigData)  # what the store keeps (store/data.py)
    faults: list[Fault] = field(default_factory=list)  # injected by the control API (faults.py)
    next_pid: int = 0x1000
    next_mac: int = 0x000001
    agents: dict[int, GuestAgent] = field(default_factory=dict)  # vmid -> its guest agent (not dumped)

    def task_log(self, node: str) -> OrderedDict[str, Task]:
        log = self.tasks.get(node)
        if log is None:  # setdefault would build an OrderedDict on every call, to throw it away
            log = self.tasks[node] = OrderedDict()
        return log

    def add_task(self, task: Task) -> None:
        log = self.task_log(task.node)
        log[task.upid] = task
        while len(log) > TASK_HISTORY:
            log.popitem(last=False)

    def find_task(self, upid: str) -> Task | None:
        for log in self.tasks.values():
            task = log.get(upid)
            if task is not None:
                return task
        return None
