"""One call of an operation on the store: the cluster, the operation's plan, its parameters."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ....apidoc.operation import Operation
from ..runtime import Mock
from ..state import Cluster
from . import defaults
from .layout import Plan

MODIFIED = "detected modified configuration - file changed by other user? Try again.\n"  # pve-common Tools.pm:872


@dataclass(frozen=True, slots=True)
class Act:
    """One call on one collection: the cluster, the plan, the call's operation and parameters."""

    mock: Mock
    plan: Plan
    op: Operation
    params: Mapping[str, Any]

    @property
    def cluster(self) -> Cluster:
        return self.mock.cluster

    def section(self) -> defaults.Section:
        return defaults.section(self.cluster, self.plan.where, self.params)

    def writable(self) -> defaults.Section:
        return defaults.writable(self.cluster, self.plan.where, self.params)
