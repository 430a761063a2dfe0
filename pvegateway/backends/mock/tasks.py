"""Worker tasks: real UPIDs, a log, and deterministic progression (no test ever needs to sleep).

Progression modes: ``immediate`` (a task is finished when the call returns), ``polls:N`` (it stops
after N status reads) and ``delay:S`` (after S seconds of the mock's clock, whoever is looking: a
client that waits for a guest's ``create`` lock to go away never reads the task's status, so
``settle`` runs before every request).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass

from ...errors import PVEError
from .clock import Clock
from .faults import TASK_ERROR
from .state import Cluster, Task


@dataclass
class Progression:
    mode: str = "immediate"
    value: float = 0

    @classmethod
    def parse(cls, text: str) -> Progression:
        if text == "immediate":
            return cls()
        kind, _, amount = text.partition(":")
        if kind in ("polls", "delay") and amount.replace(".", "", 1).isdigit():
            return cls(kind, float(amount))
        raise ValueError(f"task progression {text!r}: expected immediate, polls:N or delay:SECONDS")

    def __str__(self) -> str:
        return "immediate" if self.mode == "immediate" else f"{self.mode}:{self.value:g}"


def make_upid(node: str, pid: int, pstart: int, starttime: int, kind: str, ident: str, user: str) -> str:
    return f"UPID:{node}:{pid:08X}:{pstart:08X}:{starttime:08X}:{kind}:{ident}:{user}:"


class Tasks:
    def __init__(self, cluster: Callable[[], Cluster], clock: Clock, progression: Progression) -> None:
        self._cluster = cluster
        self._clock = clock
        self.progression = progression
        self._timed: list[tuple[float, int, Task]] = []  # (done_at, pid, task): a heap of delayed tasks

    def start(
        self,
        node: str,
        kind: str,
        ident: str,
        user: str,
        finish: Callable[[], None] | None = None,
        log: list[str] | None = None,
        error: str | None = None,
        cancel: Callable[[], None] | None = None,
        hold: float | None = None,
    ) -> str:
        """Start a task; ``finish`` applies its effect when it stops (at once in immediate mode).

        ``cancel`` undoes what the call did before its worker ran, should the task be stopped first
        (PVE's create and clone workers remove the half-made guest when interrupted). A task fault
        injected for the call (:mod:`.faults`) makes the worker die: the effect never comes, what the
        call did is undone as the task ends, and the fault's text is its exit status.
        """
        injected = TASK_ERROR.get()
        if injected is not None:
            TASK_ERROR.set(None)  # one task per hit
            error, finish = injected, cancel
        cluster = self._cluster()
        cluster.next_pid += 1
        now = self._clock.now()
        pid = cluster.next_pid
        upid = make_upid(node, pid, pid * 100, now, kind, ident, user)
        task = Task(upid=upid, node=node, pid=pid, pstart=pid * 100, starttime=now, type=kind, id=ident,
                    user=user, log=list(log or []), finish=finish, outcome=error or "OK", cancel=cancel)
        mode = self.progression
        if hold is not None:
            task.held = True
            task.done_at = self._clock.monotonic() + hold
            heapq.heappush(self._timed, (task.done_at, pid, task))
            cluster.add_task(task)
            return upid
        if mode.mode == "polls":
            task.polls_left = int(mode.value)
        elif mode.mode == "delay":
            task.done_at = self._clock.monotonic() + mode.value
            heapq.heappush(self._timed, (task.done_at, pid, task))
        cluster.add_task(task)
        if mode.mode == "immediate" or (mode.mode == "polls" and task.polls_left <= 0):
            self.stop(task)
        return upid

    def stop(self, task: Task) -> None:
        if task.status == "stopped":
            return
        task.cancel = None
        if task.finish is not None:
            try:
                task.finish()
            except PVEError as err:
                task.outcome = err.message.rstrip("\n")
            task.finish = None
        task.status = "stopped"
        task.endtime = self._clock.now()
        task.exitstatus = task.outcome
        task.log.append("TASK OK" if task.outcome == "OK" else f"TASK ERROR: {task.outcome}")

    def interrupt(self, task: Task, reason: str) -> None:
        """Stop a running task before its effect: it ends with ``reason`` and its call is undone."""
        if task.status != "running":
            return
        cancel, task.cancel, task.finish = task.cancel, None, None
        if cancel is not None:
            cancel()
        task.outcome = reason
        self.stop(task)

    def settle(self) -> None:
        """Stop every delayed task whose time has come (O(1) when none has)."""
        timed = self._timed
        if not timed:
            return
        now = self._clock.monotonic()
        while timed and timed[0][0] <= now:
            done_at, _, task = heapq.heappop(timed)
            if task.done_at == done_at:  # else its deadline was lifted (``release``)
                self.stop(task)

    def find(self, upid: str) -> Task | None:
        return self._cluster().find_task(upid)

    @staticmethod
    def release(task: Task) -> None:
        """Lift a held task's deadline: it runs until stopped."""
        task.done_at = None

    def poll(self, task: Task) -> Task:
        """A status read: counts towards ``polls:N`` and checks ``delay:S``."""
        if task.status == "running" and not task.held:
            if self.progression.mode == "polls" or task.polls_left > 0:
                task.polls_left -= 1
                if task.polls_left <= 0:
                    self.stop(task)
            elif task.done_at is not None and self._clock.monotonic() >= task.done_at:
                self.stop(task)
        return task

    def finish_all(self) -> None:
        for log in self._cluster().tasks.values():
            for task in list(log.values()):
                self.stop(task)
