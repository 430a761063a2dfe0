"""Every operation without a realistic handler, answered from the cluster's store.

The parents the path names are checked first (:mod:`.parents`, or the store's own items), then the
operation acts by its kind (:mod:`.layout`); one that answers a UPID in PVE starts a real task of the
mock, after its effect. What keeps nothing answers shaped data (the schema-driven generic backend's).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any

from ....apidoc.operation import Operation
from ...base import Call, Result
from ...generic import GenericBackend
from ..faults import TASK_ERROR
from ..runtime import Mock, user_of
from . import rules, sections, singletons, views
from .act import Act
from .data import ConfigData
from .effect import Effect
from .effects import EFFECTS
from .layout import Kind, Layout, Plan
from .parents import CHECKS
from .workers import worker_type

Step = Callable[[Act], Any]

_STEPS: Mapping[Kind, Step] = {
    Kind.LIST: sections.listing,
    Kind.CREATE: sections.create,
    Kind.READ: sections.read,
    Kind.UPDATE: sections.update,
    Kind.REMOVE: sections.remove,
    Kind.SHOW: singletons.show,
    Kind.SET: singletons.set_options,
    Kind.RULES: rules.listing,
    Kind.INSERT: rules.insert,
    Kind.RULE: rules.read,
    Kind.EDIT: rules.update,
    Kind.DROP: rules.remove,
}
_ANSWERS_DATA = frozenset({Kind.LIST, Kind.READ, Kind.SHOW, Kind.RULES, Kind.RULE})


class ConfigStore:
    def __init__(self, operations: Iterable[Operation], handled: Collection[tuple[str, str]]) -> None:
        ops = list(operations)
        self.layout = Layout(ops, handled)
        self.shapes = GenericBackend(ops)  # what operations that keep nothing answer

    def plan(self, op: Operation) -> Plan | None:
        return self.layout.plan(op)

    def handle(self, mock: Mock, call: Call) -> Result:
        op = call.operation
        plan = self.layout.plan(op)
        if plan is None:
            return self.shapes.shaped(op, call.path_params)
        params = call.params
        for parent in plan.parents:
            if parent.within:
                sections.exists(mock.cluster, parent.within, params, parent.param)
            else:
                CHECKS[parent.param](mock, parent, params)
        view = views.VIEWS.get(op.key)
        if view is not None:
            answer = view(mock, call)
            return answer if isinstance(answer, Result) else Result(answer)  # a Result: with its total
        # a task's effect is worked out (and its checks made) before the store changes
        effect = EFFECTS[op.key](mock, call) if plan.worker is not None and op.key in EFFECTS else Effect()
        if effect.answer is not None:
            return Result(effect.answer)
        step = _STEPS.get(plan.kind)
        # a task fault (faults.py) kills the worker: its checks answer as ever, what it wrote goes
        dying = plan.worker is not None and step is not None and TASK_ERROR.get() is not None
        before = mock.cluster.store.dump() if dying else None
        data = step(Act(mock, plan, op, params)) if step is not None else None
        if before is not None:
            mock.cluster.store = ConfigData.load(before)
        if plan.worker is not None:
            node = str(params.get(plan.worker.node) or "") if plan.worker.node else next(iter(mock.cluster.nodes), "")
            ident = effect.ident if effect.ident is not None else plan.worker.ident(params)
            return Result(mock.tasks.start(node, worker_type(plan.worker, params), ident,
                                           user_of(call), finish=effect.finish, log=effect.log, error=effect.error))
        if plan.kind in _ANSWERS_DATA:  # what returns requires and nobody set, shaped like the schema
            return Result(self.shapes.completed(op, call.path_params, data))
        if step is not None:
            return Result(None)
        return self.shapes.shaped(op, call.path_params)
