"""MockBackend: realistic handlers where the mock has them, the cluster's configuration store (answered
from the schema) everywhere else."""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import secrets
from collections.abc import Coroutine, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...apidoc.operation import Operation
from ...apidoc.sources import write_atomic
from ...errors import PVEError
from ...ratelimit.login import LoginThrottle, login_userid
from ...secrets import BearerKeys, require_strong_keys
from ..base import Call, Identity, Incoming, Result, Streamed, Upgrade
from . import control, faults, snapshot
from .auth import Authenticator
from .clock import Clock
from .handlers import all_routes
from .incode import GUARDS, Context, Guard
from .runtime import Handler, Mock
from .seed import DEFAULT_ROOT_PASSWORD, load_seed
from .snapshot import Seed
from .store.engine import ConfigStore
from .tasks import Progression, Tasks
from .tickets import Signer

log = logging.getLogger(__name__)


@dataclass
class MockOptions:
    seed: str | Path | None = None
    root_password: str | None = None
    secret: bytes | None = None
    tasks: str = "immediate"
    auth_delay: float = 0.0
    state_file: str | Path | None = None
    control_key: str | None = field(default=None, repr=False)  # enables the /_gateway control API; never logged
    login_throttle: str | None = None  # e.g. "user=5/minute;client=20/minute": see pvegateway.ratelimit.login

    def __post_init__(self) -> None:
        require_strong_keys([self.control_key], "the control key")


class MockBackend:
    name = "mock"

    def __init__(self, operations: Iterable[Operation], options: MockOptions | None = None) -> None:
        ops = list(operations)
        self.options = options or MockOptions()
        known = {(op.method, op.path) for op in ops}
        self.routes: dict[tuple[str, str], Handler] = {k: h for k, h in all_routes().items() if k in known}
        self.store = ConfigStore(ops, self.routes.keys())
        self.operations = _by_name(ops)
        # one signer for the backend's life: tickets stay valid across resets
        self.signer = Signer(self.options.secret or secrets.token_bytes(32))
        self.seed = self._initial_seed()  # what a reset goes back to: immutable, so no cluster changes it
        self.mock = self._build(self.seed)
        self.auth = Authenticator(lambda: self.mock.cluster, self.signer, lambda: self.mock.clock.now(),
                                  self.options.auth_delay)
        self.login_throttle = LoginThrottle(self.options.login_throttle) if self.options.login_throttle else None
        # the control API's key (none: its routes answer 404), kept here so that its count of wrong
        # keys outlives the site's routes, which a schema swap builds again
        self.control_keys = BearerKeys([self.options.control_key])

    def rebind(self, operations: Iterable[Operation]) -> None:
        """Answer another schema's operations (a live schema swap): the cluster (its store included)
        and tickets stay; handlers are bound again by (method, path), the store's layout worked out anew."""
        ops = list(operations)
        known = {(op.method, op.path) for op in ops}
        self.routes = {k: h for k, h in all_routes().items() if k in known}
        self.store = ConfigStore(ops, self.routes.keys())
        self.operations = _by_name(ops)

    # --- state ------------------------------------------------------------------------------------

    def _initial_seed(self) -> Seed:
        state = self.options.state_file
        if state is not None and Path(state).exists():
            return Seed.of(load_seed(state))
        return Seed.of(load_seed(self.options.seed))

    def _build(self, seed: Seed) -> Mock:
        clock = Clock(seed.clock)
        cluster = snapshot.load(seed)
        root = cluster.users["root@pam"]
        if root.password is None:
            root.password = self.options.root_password or seed.root_password or DEFAULT_ROOT_PASSWORD
        tasks = Tasks(lambda: cluster, clock, Progression.parse(self.options.tasks))
        return Mock(cluster, clock, self.signer, tasks)

    def reset(self, seed: Mapping[str, Any] | None = None) -> None:
        """Back to the kept seed, or to ``seed``, which later resets then go back to, its configuration
        store included; the signing secret stays, so tickets stay valid. A seed that fails to load
        changes nothing."""
        kept = Seed.of(seed) if seed is not None else self.seed
        self.mock = self._build(kept)
        self.seed = kept

    def dump(self) -> dict[str, Any]:
        """The whole cluster as a seed that builds it again (:mod:`.snapshot` describes the format)."""
        self.mock.tasks.settle()
        return snapshot.dump(self.mock.cluster, self.mock.clock.fixed)

    # --- faults (see .faults) ------------------------------------------------------------------------

    def add_fault(self, spec: Mapping[str, Any]) -> faults.Fault:
        """Inject the fault ``spec`` describes (a ValueError says what is wrong with it)."""
        kept = self.mock.cluster.faults
        fault = faults.parse(spec, faults.next_id(kept), self.operations.get)
        kept.append(fault)
        return fault

    def remove_faults(self, ident: int | None = None) -> int:
        """Take out the fault ``ident`` (None: all of them); how many went."""
        kept = self.mock.cluster.faults
        left = [f for f in kept if ident is not None and f.id != ident]
        gone = len(kept) - len(left)
        kept[:] = left
        return gone

    def set_online(self, node: str, online: bool) -> None:
        found = self.mock.cluster.nodes.get(node)
        if found is None:
            raise ValueError(f"no node {node!r}")
        found.online = online

    def set_full(self, storage: str, full: bool) -> None:
        found = self.mock.cluster.storages.get(storage)
        if found is None:
            raise ValueError(f"no storage {storage!r}")
        found.full = full

    def save(self) -> None:
        state = self.options.state_file
        if state is not None:
            write_atomic(Path(state), (json.dumps(self.dump(), indent=1) + "\n").encode())

    def site_routes(self) -> list[Any]:
        """The control API under ``/_gateway`` (mounted by the Gateway next to /openapi.json)."""
        return list(control.routes(self))

    # --- Backend protocol -------------------------------------------------------------------------

    async def startup(self) -> None:
        return None

    async def shutdown(self) -> None:
        self.save()

    def authenticate(self, request: Incoming) -> Coroutine[Any, Any, Identity | None]:
        return self.auth.authenticate(request)  # its coroutine, awaited by the caller: no await in between

    def authorize(self, operation: Operation, identity: Identity | None, params: Mapping[str, Any]) -> None:
        self.mock.permissions.authorize(operation, identity, params)

    def _stored(self, call: Call, guard: Guard | None) -> Result:
        """The configuration store, behind PVE's in-code checks of the operation (``incode.GUARDS``)."""
        context = Context(self.mock, call)
        if guard is not None and guard.check is not None:
            guard.check(context)
        result = self.store.handle(self.mock, call)
        if guard is not None and guard.shown is not None:
            return Result(guard.shown(context, result.data), result.total, result.changes)
        return result

    async def handle(self, call: Call) -> Result | Streamed | Upgrade:
        if not self.mock.cluster.faults and call.operation.proxyto != "node":
            return await self._handle(call)  # nothing to look for (the usual case: one await less)
        task_error = await self._faults(call)
        if task_error is None:
            return await self._handle(call)
        token = faults.TASK_ERROR.set(task_error)
        try:
            return await self._handle(call)
        finally:
            faults.TASK_ERROR.reset(token)

    async def _faults(self, call: Call) -> str | None:
        """The injected faults that hit ``call``: the latencies (awaited, so other requests go on), a
        node offline, an error (raised), or the exit status a task of the call is to end with."""
        op, params = call.operation, call.params
        hits = [f for f in self.mock.cluster.faults if f.matches(op, params)]
        delay = 0.0
        for fault in hits:
            if fault.kind == "latency":
                fault.hit()
                delay += fault.seconds
        if delay:
            await asyncio.sleep(delay)
        if op.proxyto == "node":
            node = self.mock.cluster.nodes.get(str(params.get("node", "")))
            if node is not None and not node.online:
                # pveproxy proxies the call to the node (pve-http-server src/PVE/APIServer/AnyEvent.pm:
                # 734-891 proxy_request): AnyEvent::HTTP's 595 with the connection's errno as reason,
                # passed on as it is, without a body
                raise PVEError(595, "No route to host", bare=True)
        for fault in hits:
            if fault.kind == "error":
                fault.hit()
                raise fault.error()
        for fault in hits:
            if fault.kind == "task" and op.returns_task:
                fault.hit()
                return fault.message
        return None

    async def _handle(self, call: Call) -> Result | Streamed | Upgrade:
        key = (call.operation.method, call.operation.path)
        handler = self.routes.get(key)
        self.mock.tasks.settle()  # delayed tasks end on time, whether or not anyone reads their status
        if handler is None:
            return self._stored(call, GUARDS.get(key))
        if self.login_throttle is not None and call.operation.is_login:
            user = login_userid(call.params)
            answer = await self.login_throttle.guard(user, call.client, lambda: handler(self.mock, call))
        else:
            answer = handler(self.mock, call)
        # an upload's handler reads the body as it arrives; most answer plain data, which is not asked
        # the slower question (an ABC check)
        if type(answer) not in _PLAIN and inspect.isawaitable(answer):
            answer = await answer
        return answer if isinstance(answer, Result | Streamed | Upgrade) else Result(answer)


_PLAIN = frozenset((dict, list, str, int, float, type(None)))


def _by_name(operations: Iterable[Operation]) -> dict[str, Operation]:
    """Operations by key (``GET /nodes``) and by id (``get_nodes``), for faults to name them."""
    named: dict[str, Operation] = {}
    for op in operations:
        named[op.key] = named[op.id] = op
    return named
