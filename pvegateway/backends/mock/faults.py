"""Fault injection: chosen calls fail, start a task that fails, or answer late, for testing how a
client's automation handles PVE's errors.

A fault matches calls by operation (``"POST /nodes/{node}/qemu/{vmid}/status/start"`` or the
operation's id, ``post_nodes_node_qemu_vmid_status_start``; none: every operation), by the ``node``
and the guest ``vmid`` the call names, and hits the next ``times`` of them (none: every one).

- ``error``: the call fails with ``status`` and ``message`` (and the ``errors`` map of a parameter
  error), PVE's envelope: ``{"data": null, "message": "TEXT\\n"}``.
- ``task``: the call answers its UPID as usual; the task ends with ``message`` as its exit status
  (the log's last line ``TASK ERROR: TEXT``) and leaves nothing behind, as a worker that died.
- ``latency``: the call answers ``seconds`` later, without holding up any other request.

The faults are cluster state (:class:`~.state.Cluster`'s ``faults``): dumped, and gone after a reset
to a seed without them. A node taken offline and a full storage are the node's and the storage's own
state (``Node.online``, ``Storage.full``), read where PVE would notice them.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

from ...apidoc.operation import Operation
from ...errors import PARAM_FAILED, PVEError

FaultKind = Literal["error", "task", "latency"]
KINDS: tuple[FaultKind, ...] = ("error", "task", "latency")
MAX_LATENCY = 600.0  # seconds: a test that asks for more has a typo, not a plan
_FIELDS = frozenset({"kind", "operation", "node", "vmid", "times", "status", "message", "errors", "seconds"})

# the exit status the tasks started by the call being answered end with (the backend sets it while the
# call's handler runs: a context variable, so concurrent calls never see each other's)
TASK_ERROR: contextvars.ContextVar[str | None] = contextvars.ContextVar("pvegateway_task_error", default=None)


@dataclass
class Fault:
    id: int
    kind: FaultKind
    operation: str | None = None  # an operation's key, "METHOD /path/{template}"; None: any
    node: str | None = None
    vmid: int | None = None
    times: int | None = None  # how many more calls it hits; None: all of them
    status: int = 500
    message: str = ""
    errors: dict[str, str] | None = None
    seconds: float = 0.0
    hits: int = 0  # the calls it has hit so far

    def matches(self, op: Operation, params: Mapping[str, Any]) -> bool:
        if self.times == 0 or (self.operation is not None and self.operation != op.key):
            return False
        if self.node is not None and str(params.get("node", "")) != self.node:
            return False
        return self.vmid is None or str(params.get("vmid", "")) == str(self.vmid)

    def hit(self) -> None:
        self.hits += 1
        if self.times is not None:
            self.times -= 1

    def error(self) -> PVEError:
        return PVEError(self.status, self.message, self.errors)


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"fault: '{name}' must be a non-empty string")
    return value


def _count(value: Any, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"fault: '{name}' must be an integer from {low} to {high}")
    return value


def parse(spec: Mapping[str, Any], ident: int, operation: Callable[[str], Operation | None]) -> Fault:
    """A fault from its JSON description; ``operation`` finds an operation by key or id."""
    if not isinstance(spec, Mapping):
        raise ValueError("fault: a JSON object")
    unknown = sorted(set(spec) - _FIELDS)
    if unknown:
        raise ValueError(f"fault: unknown field(s) {unknown}; known: {sorted(_FIELDS)}")
    kind = spec.get("kind", "error")
    if kind not in KINDS:
        raise ValueError(f"fault: 'kind' must be one of {list(KINDS)}")
    fault = Fault(ident, kind)
    if spec.get("operation") is not None:
        op = operation(_text(spec["operation"], "operation"))
        if op is None:
            raise ValueError(f"fault: no operation {spec['operation']!r} (give 'METHOD /path/{{param}}' or its id)")
        if kind == "task" and not op.returns_task:
            raise ValueError(f"fault: {op.key} starts no task")
        fault.operation = op.key
    if spec.get("node") is not None:
        fault.node = _text(spec["node"], "node")
    if spec.get("vmid") is not None:
        fault.vmid = _count(spec["vmid"], "vmid", 100, 999_999_999)
    if spec.get("times") is not None:
        fault.times = _count(spec["times"], "times", 1, 1_000_000)
    if kind == "latency":
        seconds = spec.get("seconds")
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not 0 < seconds <= MAX_LATENCY:
            raise ValueError(f"fault: a latency's 'seconds' must be a number above 0, at most {MAX_LATENCY:g}")
        fault.seconds = float(seconds)
        return fault
    errors = spec.get("errors")
    if errors is not None:
        if (not isinstance(errors, Mapping) or not errors
                or not all(isinstance(k, str) and isinstance(v, str) for k, v in errors.items())):
            raise ValueError("fault: 'errors' must map parameter names to texts")
        if kind == "task":
            raise ValueError("fault: a task ends with a message, not an errors map")
        fault.errors = dict(errors)
    message = spec.get("message")
    if message is None and fault.errors is not None:
        message = PARAM_FAILED  # what raise_param_exc says (pve-common JSONSchema.pm:1698)
    message = _text(message, "message")
    if "\r" in message or (kind == "task" and "\n" in message.rstrip("\n")):
        raise ValueError("fault: a task's message is one line" if kind == "task" else "fault: no CR in a message")
    if kind == "task":
        fault.message = message.rstrip("\n")
        return fault
    # PVE's die texts end with a newline (its envelope shows it); a status line of a 4xx/5xx only
    fault.status = _count(spec.get("status", 400 if fault.errors else 500), "status", 400, 599)
    fault.message = message if message.endswith("\n") else message + "\n"
    return fault


def next_id(faults: Iterable[Fault]) -> int:
    return max((f.id for f in faults), default=0) + 1


def dump(faults: Iterable[Fault]) -> list[dict[str, Any]]:
    return [asdict(f) for f in faults]


def load(data: Iterable[Mapping[str, Any]]) -> list[Fault]:
    return [Fault(**dict(item)) for item in data]
