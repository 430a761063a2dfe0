"""Pre-fork workers: several processes serving one listening socket, under a supervising parent.

One uvicorn process uses one core; the proxy's work is CPU-bound per request (validation, TLS), so a
gateway in front of a cluster scales by processes. The parent binds the socket and builds the app once
(the schema's memory, which ``make bench`` prints, is then shared copy-on-write), forks the workers,
and only supervises: it waits for signals, forwards a stop, restarts a worker that died unexpectedly
(after a growing pause, so a crashing worker cannot spin) and exits when every worker has exited.
The mock cannot use this: its cluster lives in one process's memory.

Signals are received synchronously (blocked, then ``sigtimedwait``), so no handler can race the loop.
Workers run in their own process group: a Ctrl-C on the terminal reaches the parent only, which stops
the workers once, gracefully; a second signal kills them.
"""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import socket
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

from ..observe.access import flush_held
from ._uvicorn import STARTUP_FAILURE  # a worker whose lifespan failed: restarting would fail again

READY = signal.SIGRTMIN  # a real-time signal: queued per worker, never merged like SIGCHLD
_STOPS = (signal.SIGTERM, signal.SIGINT)
_WAITED = {*_STOPS, signal.SIGCHLD, READY}
STABLE_AFTER = 10.0  # a worker that lived this long resets its restart pause
KILL_GRACE = 5.0  # after the shutdown timeout, workers still alive are killed


def announcing_ready(app: Any) -> Any:
    """``app`` telling the supervisor once its startup is done (the socket is served right after)."""

    async def ready_app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            await app(scope, receive, send)
            return

        async def ready_send(message: Any) -> None:
            await send(message)
            if message.get("type") == "lifespan.startup.complete":
                os.kill(os.getppid(), READY)

        await app(scope, receive, ready_send)

    return ready_app


def _say(text: str) -> None:
    print(f"pvegateway: {text}", file=sys.stderr, flush=True)


class Supervisor:
    """The parent of ``count`` workers, each running ``serve_one(parent_pid)`` on the inherited socket."""

    def __init__(self, count: int, sock: socket.socket, serve_one: Callable[[int], None],
                 shutdown_timeout: float, announce: Callable[[str], None] | None = None) -> None:
        self.count = count
        self.sock = sock
        self.serve_one = serve_one
        self.shutdown_timeout = shutdown_timeout
        self.announce = announce or (lambda text: print(f"pvegateway: {text}", flush=True))
        self.workers: dict[int, float] = {}  # pid -> start time
        self.failures = 0  # consecutive quick deaths: the restart pause doubles with each
        self.restart_at: list[float] = []
        self.ready: set[int] = set()
        self.announced = False
        self.stop_deadline: float | None = None
        self.status = 0

    def run(self) -> int:
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, _WAITED)
        # a blocked SIGCHLD with the default (ignore) disposition may be discarded: give it a handler
        previous_chld = signal.signal(signal.SIGCHLD, lambda *_: None)
        gc.freeze()  # the app built so far stays shared with the workers instead of copied by the GC
        try:
            for _ in range(self.count):
                self._fork(previous)
            while self.workers or (self.restart_at and self.stop_deadline is None):
                info = signal.sigtimedwait(_WAITED, self._timeout())
                if info is not None:
                    self._on_signal(info.si_signo, info.si_pid)
                self._reap()
                self._restart_due(previous)
                if self.stop_deadline is not None and time.monotonic() >= self.stop_deadline:
                    self._kill_all(signal.SIGKILL)
        finally:
            signal.signal(signal.SIGCHLD, previous_chld)
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)
            self.sock.close()
        return self.status

    def _timeout(self) -> float:
        due = [*self.restart_at] if self.stop_deadline is None else [self.stop_deadline]
        return max(0.0, min(due) - time.monotonic()) if due else 3600.0

    def _fork(self, mask: set[int | signal.Signals]) -> None:
        pid = os.fork()
        if pid:
            self.workers[pid] = time.monotonic()
            return
        status = 1
        try:
            os.setpgid(0, 0)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
            self.serve_one(os.getppid())
            status = 0
        except SystemExit as err:
            status = err.code if isinstance(err.code, int) else 1
        except BaseException:
            traceback.print_exc()
        finally:
            flush_held()  # what interpreter exit does, which os._exit skips: held access log lines written
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(status)

    def _on_signal(self, signo: int, sender: int) -> None:
        if signo == READY and sender in self.workers:
            self.ready.add(sender)
            if not self.announced and len(self.ready) == self.count:
                self.announced = True
                pids = ", ".join(str(pid) for pid in sorted(self.ready))
                self.announce(f"{self.count} workers serving (pids {pids})")
            elif self.announced:
                self.announce(f"worker {sender} serving (replacing one that exited)")
        elif signo in _STOPS:
            self._stop(signo)

    def _stop(self, signo: int) -> None:
        if self.stop_deadline is not None:
            self._kill_all(signal.SIGKILL)  # asked twice: now
            return
        self.stop_deadline = time.monotonic() + self.shutdown_timeout + KILL_GRACE
        self.restart_at.clear()
        self.sock.close()  # the workers' copies close as they stop; then connections are refused
        self._kill_all(signal.SIGTERM)

    def _kill_all(self, signo: int) -> None:
        for pid in self.workers:
            with contextlib.suppress(ProcessLookupError):  # exited, not reaped yet
                os.kill(pid, signo)

    def _reap(self) -> None:
        while self.workers:
            try:
                pid, wait_status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            started = self.workers.pop(pid, None)
            if started is None:
                continue
            self.ready.discard(pid)
            code = os.waitstatus_to_exitcode(wait_status)
            if self.stop_deadline is not None:
                if code != 0:
                    self.status = 1
                continue
            self._died(pid, code, time.monotonic() - started)

    def _died(self, pid: int, code: int, lived: float) -> None:
        how = f"signal {-code}" if code < 0 else f"status {code}"
        if code == STARTUP_FAILURE:
            _say(f"worker {pid} failed to start ({how}); stopping")
            self.status = 1
            self._stop(signal.SIGTERM)
            return
        self.failures = 0 if lived >= STABLE_AFTER else self.failures + 1
        pause = min(0.1 * 2 ** self.failures, 10.0)
        _say(f"worker {pid} exited unexpectedly ({how}); restarting it in {pause:.1f} s")
        self.restart_at.append(time.monotonic() + pause)

    def _restart_due(self, mask: set[int | signal.Signals]) -> None:
        if self.stop_deadline is not None:
            return
        now = time.monotonic()
        for due in [t for t in self.restart_at if t <= now]:
            self.restart_at.remove(due)
            self._fork(mask)


def serve_workers(count: int, sock: socket.socket, serve_one: Callable[[int], None],
                  shutdown_timeout: float) -> int:
    """Run ``count`` workers until a stop signal; the exit status is 0 if every worker stopped cleanly."""
    return Supervisor(count, sock, serve_one, shutdown_timeout).run()
