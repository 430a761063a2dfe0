"""What a task's worker does, worked out when the call is made: the change it makes when it ends, its log,
its failure; or PVE's answer without a task."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Effect:
    finish: Callable[[], None] | None = None
    log: list[str] = field(default_factory=list)
    error: str | None = None  # the task fails with this
    answer: str | None = None  # PVE answers this instead of starting a task
    ident: str | None = None  # the task's id, when the worker table's cannot know it from the parameters
