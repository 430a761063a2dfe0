"""The access log: one JSON object per request on the ``pvegateway.access`` logger.

JSON rather than logfmt because every log pipeline (journald + jq, Loki, Elasticsearch, Vector) reads it
without a custom parser, and escaping is ``json``'s problem, not ours. Only what an operator needs and
nothing a request carries: the operation's path *template* (``/nodes/{node}/qemu/{vmid}``), never the
concrete path (VM IDs, user names, token IDs) nor the query string (``?password=`` is legal PVE), headers,
body, ticket or token. The client address is the TCP peer's: forwarding headers are not trusted, like
everywhere else in the gateway.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import sys
import time
import weakref
from collections.abc import Callable
from json.encoder import encode_basestring
from typing import IO

from ..http.api import Exchange

LOGGER = "pvegateway.access"
_INFO = logging.INFO
_string: Callable[[str], str] = encode_basestring  # a JSON string literal, quotes included (C code)
_second_cache: tuple[int, str] = (-1, "")
_milli_cache: tuple[int, str] = (-1, "")
_PLAIN = logging.Formatter("%(message)s")
# The lines ``log_to``'s handler holds before one write: at most this long (a reader tailing the log sees
# them promptly) or this many lines (about 16 KiB: a pipe's default 64 KiB holds four such writes, so a
# write seldom waits, blocking the event loop, for a reader a little late), and whatever is held at
# shutdown. One write per request was a system call per request: with stdout unbuffered, as containers
# set it, ~20% of the throughput of a cheap request.
FLUSH_SECONDS = 0.1
FLUSH_LINES = 90


def _timestamp(now: float) -> str:
    """ISO 8601 UTC with milliseconds. The part up to the second is formatted once per second, and the
    whole once per millisecond: a busy gateway logs several requests in each."""
    global _second_cache, _milli_cache
    milli = int(now * 1000)
    cached = _milli_cache
    if cached[0] == milli:
        return cached[1]
    second = milli // 1000
    seconds = _second_cache
    if seconds[0] != second:
        seconds = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
        _second_cache = seconds
    text = f"{seconds[1]}.{milli - second * 1000:03d}Z"
    _milli_cache = (milli, text)
    return text


# The parts of a line that repeat: what a method, path template and status make, and what a backend and
# client make (without an upstream time). Formatted once each; bounded, since methods and clients come
# from requests (past the bound, parts are formatted every time, as they were).
_PARTS_BOUND = 4096
_heads: dict[tuple[str, str | None, int], str] = {}
_tails: dict[tuple[str, str | None], str] = {}


def _head(method: str, template: str | None, status: int) -> str:
    key = (method, template, status)
    part = _heads.get(key)
    if part is None:
        part = (f'"method":{_string(method)},"path":{_string(template) if template is not None else "null"},'
                f'"status":{status},"duration_ms":')
        if len(_heads) < _PARTS_BOUND:
            _heads[key] = part
    return part


def _tail(backend: str, upstream: float | None, client: str | None) -> str:
    if upstream is not None:
        return (f',"backend":{backend},"upstream_ms":{upstream * 1000:.3f},'
                f'"client":{_string(client) if client is not None else "null"}}}')
    key = (backend, client)
    part = _tails.get(key)
    if part is None:
        part = f',"backend":{backend},"upstream_ms":null,"client":{_string(client) if client is not None else "null"}}}'
        if len(_tails) < _PARTS_BOUND:
            _tails[key] = part
    return part


def _lines(held: list[_Held]) -> list[str]:
    """``_line`` of each held exchange, in one loop: the parts that repeat looked up without a call
    per line (a flush makes ~90 lines; this is most of what the access log costs a request)."""
    lines: list[str] = []
    append = lines.append
    heads, tails = _heads, _tails
    for now, (method, template, status, seconds, upstream, client), backend in held:
        head = heads.get((method, template, status))
        if head is None:
            head = _head(method, template, status)
        tail = tails.get((backend, client)) if upstream is None else None
        if tail is None:
            tail = _tail(backend, upstream, client)
        append(f'{{"time":"{_timestamp(now)}",{head}{seconds * 1000:.3f}{tail}')
    return lines


def _line(now: float, exchange: Exchange, backend: str) -> str:
    """The JSON line of ``exchange`` seen at ``now``; ``backend`` is a JSON string literal already.
    A template of None (no operation matched: PVE's 401s, 501s) is logged as no path at all."""
    method, template, status, seconds, upstream, client = exchange
    return (f'{{"time":"{_timestamp(now)}",{_head(method, template, status)}{seconds * 1000:.3f}'
            f'{_tail(backend, upstream, client)}')


class AccessLog:
    """An ``Observer`` writing one line per exchange; costs one level check when the logger is off.

    Cost matters next to a request that the gateway answers itself: when ``log_to``'s handler is the
    logger's only one, the exchange and its time are handed to it as they are, and the line is made
    when the held ones are written (see ``FLUSH_SECONDS``), off the request's path; else the line is
    made now and a LogRecord goes through ``logger.handle`` (several times the cost: the record's
    thread/process fields, locks and formatting), which keeps any logging configuration working.

    That the handler is still the logger's only route (its level, filters, handlers, format) is checked
    when the held lines are written, not on each request: lines taken since a change of configuration
    (at most ``FLUSH_SECONDS`` of them) go where the configuration says when they are written.
    """

    def __init__(self, backend: str, logger: logging.Logger | None = None) -> None:
        self.backend = backend
        self.logger = logger or logging.getLogger(LOGGER)
        self._backend = _string(backend)
        self._sink: _AccessHandler | None = None  # the handler exchanges were last handed to

    def record(self, exchange: Exchange) -> None:
        sink = self._sink
        if sink is not None and sink.held_for is self.logger:
            sink.hold((time.time(), exchange, self._backend))
            return
        logger = self.logger
        if not logger.isEnabledFor(_INFO):
            return
        now = time.time()
        handlers = logger.handlers
        if len(handlers) == 1:
            only = handlers[0]
            if type(only) is _AccessHandler and only.alone_on(logger):
                self._sink = only
                only.hold((now, exchange, self._backend))
                return
        line = _line(now, exchange, self._backend)
        logger.handle(logger.makeRecord(logger.name, _INFO, __file__, 0, line, (), None, "record"))


_Held = tuple[float, Exchange, str]  # what a line is made of: its time, its exchange, the backend's literal


def _routes_alone(logger: logging.Logger, handler: logging.Handler) -> bool:
    """Whether a line at INFO on ``logger`` goes to ``handler`` only, written as it is."""
    handlers = logger.handlers
    return (logger.isEnabledFor(_INFO) and len(handlers) == 1 and handlers[0] is handler and not logger.propagate
            and not logger.filters and not handler.filters and handler.level <= _INFO
            and handler.formatter is _PLAIN)


class _AccessHandler(logging.StreamHandler[IO[str]]):
    """The handler ``log_to`` adds, told apart from handlers an application added itself. Exchanges
    handed over through ``hold`` are held, and their lines made and written together (see
    ``FLUSH_SECONDS``); ``flush`` writes them out, and ``flush_held`` calls it at interpreter exit, so
    no line is lost when the server stops."""

    def __init__(self, stream: IO[str]) -> None:
        super().__init__(stream)
        self._held: list[_Held] = []
        self._due = 0.0  # when the held lines must be out: the timer's time, checked again on each line
        self._timer: asyncio.TimerHandle | None = None
        # the logger this handler was the only route of when last looked at (None: look again)
        self.held_for: logging.Logger | None = None

    def alone_on(self, logger: logging.Logger) -> bool:
        """Whether lines of ``logger`` can be held here (see AccessLog), remembered until a flush."""
        alone = _routes_alone(logger, self)
        self.held_for = logger if alone else None
        return alone

    def hold(self, held: _Held) -> None:
        """Hold an exchange for the line ``emit`` would write for it (checked when written)."""
        with self.lock:  # type: ignore[union-attr]  # created by Handler.__init__
            pending = self._held
            pending.append(held)
            if len(pending) == 1:
                self._due = held[0] + FLUSH_SECONDS
                self._timer = _call_later(FLUSH_SECONDS, self.flush)
                if self._timer is None:  # no event loop in this thread to write them later: now
                    self.flush()
            elif len(pending) >= FLUSH_LINES or held[0] > self._due:
                # enough to write, or the timer did not run (its event loop stopped meanwhile)
                self.flush()

    def emit(self, record: logging.LogRecord) -> None:
        with self.lock:  # type: ignore[union-attr]  # created by Handler.__init__
            self.flush()  # the held lines first: the log stays in order
            super().emit(record)

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]  # created by Handler.__init__
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            held, self._held = self._held, []
            if not held:
                super().flush()  # as StreamHandler's (logging.shutdown expects its errors)
                return
            logger = self.held_for
            if logger is not None and not _routes_alone(logger, self):
                # configured otherwise since they were taken: they go where the configuration says now
                self.held_for = None
                if logger.isEnabledFor(_INFO):
                    for now, exchange, backend in held:
                        logger.handle(logger.makeRecord(logger.name, _INFO, __file__, 0,
                                                        _line(now, exchange, backend), (), None, "record"))
                return
            lines = _lines(held)
            try:
                self.stream.write(self.terminator.join(lines) + self.terminator)
                super().flush()
            except Exception:
                self.handleError(logging.makeLogRecord({"msg": lines[-1], "levelno": _INFO, "levelname": "INFO"}))


def _call_later(delay: float, callback: Callable[[], None]) -> asyncio.TimerHandle | None:
    """``callback`` on this thread's running event loop after ``delay``; None without one."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return None
    return loop.call_later(delay, callback)


_LIVE: weakref.WeakSet[_AccessHandler] = weakref.WeakSet()


def flush_held() -> None:
    """Write out what every ``log_to`` handler holds. ``log_to`` has it run at interpreter exit:
    ``logging.shutdown`` would miss a handler that a later logging configuration closed (uvicorn's
    ``dictConfig`` closes every existing handler, which keeps working but leaves logging's list)."""
    for handler in list(_LIVE):
        _flush_open(handler)


def _flush_open(handler: _AccessHandler) -> None:
    if not getattr(handler.stream, "closed", False):  # a stream closed since (a test's capture): nowhere to go
        handler.flush()


def log_to(stream: IO[str] | None = None) -> logging.Handler:
    """Write the access log as bare JSON lines to ``stream`` (stdout by default), apart from other logs.

    For ``pvegateway serve``; an embedding application usually configures ``pvegateway.access`` itself.
    Calling it again replaces the handler it added before rather than doubling every line.
    """
    logger = logging.getLogger(LOGGER)
    for old in [h for h in logger.handlers if isinstance(h, _AccessHandler)]:
        _flush_open(old)
        logger.removeHandler(old)
        old.held_for = None
    handler = _AccessHandler(stream if stream is not None else sys.stdout)
    handler.setFormatter(_PLAIN)
    _LIVE.add(handler)
    atexit.unregister(flush_held)  # once, however often log_to is called
    atexit.register(flush_held)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False  # the JSON lines stay out of the application's text log
    return handler
