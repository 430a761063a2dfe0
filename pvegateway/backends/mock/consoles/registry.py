"""The consoles a node has open: a port each, a worker task running while it lives, one connection.

What PVE runs behind a vncproxy/termproxy/vncshell answer is a process listening on the port for one
client, for a few seconds (qemu-server src/PVE/API2/Qemu.pm:3110-3119, termproxy's listen_and_accept): it is gone
when the client leaves, when its task is stopped, or when nobody came in time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal

from ....errors import PVEError
from ...base import Channel, Session
from ..tasks import Tasks

VNC_PORTS = range(5900, 6000)  # pve-common Tools.pm:504-507 next_vnc_port
CONNECT_TIMEOUT = 10.0  # seconds a console waits for its client (Qemu.pm:3031, termproxy main.rs)

Protocol = Literal["rfb", "term"]


@dataclass(eq=False)
class Console:
    node: str
    port: int
    protocol: Protocol
    authpath: str  # what the ticket is for: /vms/<vmid> or /nodes/<node>
    privilege: str  # what termproxy asks the ticket check for (VM.Console / Sys.Console)
    user: str
    ticket: str  # the answer's ticket (termproxy pins it)
    password: str | None  # the VNC protocol password (RFB), when the answer had one
    name: str  # the desktop's or the host's name
    size: tuple[int, int]  # framebuffer pixels (RFB)
    vmid: int | None = None  # a VM's display (qm vncproxy), which needs the VM running
    upid: str = ""
    timeout_error: str | None = None  # the task's end when nobody connected in time (None: OK)
    connected: bool = False
    closed: asyncio.Event = field(default_factory=asyncio.Event)


Body = Callable[[Console, Channel], Awaitable[str | None]]
"""A console's protocol over an accepted connection; what it returns is the task's error (None: OK)."""


class Consoles:
    """The consoles by port. One host listens for the whole cluster: PVE opens a console of another
    node on the node that was asked (through SSH, Qemu.pm:3011-3016) and pveproxy connects a
    vncwebsocket to that port on localhost (AnyEvent.pm:545-547); the mock is that one host."""

    def __init__(self) -> None:
        self._open: dict[int, Console] = {}

    def free_port(self) -> int:
        """The lowest console port nothing listens on (Tools.pm next_unused_port)."""
        for port in VNC_PORTS:
            if port not in self._open:
                return port
        raise PVEError(500, "unable to find free port (5900-6000)\n")  # Tools.pm:494

    def open(self, console: Console, tasks: Tasks, task_type: str, ident: str) -> Console:
        """Listen on the console's port, with its worker task running until the console ends."""
        self._open[console.port] = console

        def end() -> None:  # the task stops: nobody came in time, or it is made to (finish_tasks)
            self._close(console)
            if not console.connected and console.timeout_error is not None:
                raise PVEError(500, console.timeout_error)

        console.upid = tasks.start(console.node, task_type, ident, console.user, finish=end,
                                   cancel=lambda: self._close(console), hold=CONNECT_TIMEOUT)
        return console

    def _close(self, console: Console) -> None:
        console.closed.set()
        if self._open.get(console.port) is console:
            del self._open[console.port]

    def connect(self, port: int, tasks: Tasks, body: Body) -> Session | None:
        """The session of the console listening on ``port``, which then listens no more; None when
        nothing listens there (nobody opened it, it already has its client, or it ended)."""
        console = self._open.get(port)
        task = tasks.find(console.upid) if console is not None else None
        if console is None or console.connected or task is None or task.status != "running":
            return None
        console.connected = True
        tasks.release(task)

        async def session(channel: Channel) -> None:
            work = asyncio.ensure_future(body(console, channel))
            stopped = asyncio.ensure_future(console.closed.wait())  # its task was stopped
            error: str | None = None
            try:
                done, _ = await asyncio.wait((work, stopped), return_when=asyncio.FIRST_COMPLETED)
                if work in done:
                    error = work.result()
            except (ConnectionError, asyncio.IncompleteReadError):
                pass  # the client left: the console ends as it does then
            finally:
                stopped.cancel()
                work.cancel()
                self._close(console)
                if error is not None:
                    tasks.interrupt(task, error)
                else:
                    tasks.stop(task)

        return session
