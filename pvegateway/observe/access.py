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
import collections
import logging
import math
import sys
import time
import weakref
from collections.abc import Callable, Iterable
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
# them promptly) or this many lines (about 32 KiB: a pipe's default 64 KiB holds two such writes, so a
# write seldom waits, blocking the event loop, for a reader a little late), and whatever is held at
# shutdown. One write per request was a system call per request: with stdout unbuffered, as containers
# set it, ~20% of the throughput of a cheap request. A write costs ~35 us whatever its size (~20 of them
# the pipe's, waking its reader): 90 lines a write made that 0.4 us a request, 180 lines 0.2.
FLUSH_SECONDS = 0.1
FLUSH_LINES = 180
_NOT_DUE = math.inf  # the time held lines are due when none is held


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


# The parts of a line that repeat, formatted once each: what a method, path template and status make
# (the head), and what a backend and client make without an upstream time (the tail), together. Bounded,
# since methods and clients come from requests (past the bound, parts are formatted every time).
_PARTS_BOUND = 4096
_parts: dict[tuple[str, str | None, int, str, str | None], tuple[str, str]] = {}
# durations under ~4 ms (most of a gateway's answers) in milliseconds with three decimals, by whole
# microseconds, each formatted when first seen: an index into a list is a fraction of formatting a
# float, and the table stays small (a dict by microsecond grew to megabytes over a long run)
_TABULATED = 4096
_durations: list[str | None] = [None] * _TABULATED


def _milliseconds(seconds: float) -> str:
    """``seconds`` as milliseconds with three decimals (to the nearest microsecond)."""
    micros = int(seconds * 1_000_000 + 0.5)
    text = _durations[micros] if 0 <= micros < _TABULATED else None
    if text is None:
        text = f"{micros // 1000}.{micros % 1000:03d}"
        if 0 <= micros < _TABULATED:
            _durations[micros] = text
    return text


def _head(method: str, template: str | None, status: int) -> str:
    return (f'"method":{_string(method)},"path":{_string(template) if template is not None else "null"},'
            f'"status":{status},"duration_ms":')


def _tail(backend: str, upstream: float | None, client: str | None) -> str:
    return (f',"backend":{backend},"upstream_ms":{_milliseconds(upstream) if upstream is not None else "null"},'
            f'"client":{_string(client) if client is not None else "null"}}}\n')


def _parts_of(method: str, template: str | None, status: int, backend: str,
              client: str | None) -> tuple[str, str]:
    """The head and tail of a line without an upstream time, remembered within the bound."""
    parts = (_head(method, template, status), _tail(backend, None, client))
    if len(_parts) < _PARTS_BOUND:
        _parts[(method, template, status, backend, client)] = parts
    return parts


def _millisecond_of(now: float) -> tuple[str, float, float]:
    """What a line taken at ``now`` starts with (its time, to the millisecond), and the span of times
    ``[since, until)`` that start the same way: exactly those whose ``int(t * 1000)`` is ``now``'s
    (a product rounded to a float and truncated never decreases as ``t`` grows, so checking the span's
    ends against that truncation is enough)."""
    milli = int(now * 1000)
    since = milli / 1000
    while int(since * 1000) < milli:
        since = math.nextafter(since, math.inf)
    until = (milli + 1) / 1000
    while int(math.nextafter(until, -math.inf) * 1000) > milli:
        until = math.nextafter(until, -math.inf)
    return f'{{"time":"{_timestamp(now)}",', since, until


def _text(held: Iterable[_Held]) -> str:
    """The lines of the held exchanges, each ended by a newline, as one text: the parts that repeat,
    the time to the millisecond and the duration looked up without a call per line, and the pieces
    joined once (a flush makes up to ``FLUSH_LINES``; this is most of what the access log costs)."""
    pieces: list[str] = []
    extend = pieces.extend
    parts, durations, tabulated = _parts, _durations, _TABULATED
    stamp, since, until = "", 0.0, 0.0
    for now, method, template, status, seconds, upstream, client, backend in held:
        if not since <= now < until:
            stamp, since, until = _millisecond_of(now)
        micros = int(seconds * 1_000_000 + 0.5)
        duration = durations[micros] if 0 <= micros < tabulated else None
        if duration is None:
            duration = _milliseconds(seconds)
        if upstream is None:
            both = parts.get((method, template, status, backend, client))
            head, tail = both if both is not None else _parts_of(method, template, status, backend, client)
        else:
            head, tail = _head(method, template, status), _tail(backend, upstream, client)
        extend((stamp, head, duration, tail))
    return "".join(pieces)


def _line(held: _Held) -> str:
    """The JSON line of an exchange held; its backend is a JSON string literal already. A template of
    None (no operation matched: PVE's 401s, 501s) is logged as no path at all."""
    return _text((held,))[:-1]


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
        self.record_fields(*exchange)

    def record_fields(self, method: str, template: str | None, status: int, seconds: float,
                      upstream_seconds: float | None, client: str | None) -> None:
        """``record`` without an Exchange made for it (see ``api.RecordFields``)."""
        sink = self._sink
        if sink is not None and sink.held_for is self.logger:
            # ``_AccessHandler.hold`` written out here: a call less on every request
            now = time.time()
            held = sink.held
            held.append((now, method, template, status, seconds, upstream_seconds, client, self._backend))
            due = sink.due
            if now > due or len(held) >= FLUSH_LINES:
                sink.flush()  # enough to write, or the timer did not run (its event loop stopped meanwhile)
            elif due == _NOT_DUE:
                sink.first(now)
            return
        logger = self.logger
        if not logger.isEnabledFor(_INFO):
            return
        taken = (time.time(), method, template, status, seconds, upstream_seconds, client, self._backend)
        handlers = logger.handlers
        if len(handlers) == 1:
            only = handlers[0]
            if type(only) is _AccessHandler and only.alone_on(logger):
                self._sink = only
                only.hold(taken)
                return
        logger.handle(logger.makeRecord(logger.name, _INFO, __file__, 0, _line(taken), (), None, "record"))


# what a line is made of: its time, the exchange's fields (in Exchange's order), the backend's literal
_Held = tuple[float, str, str | None, int, float, float | None, str | None, str]


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
        # what is held: appended to without the lock (a deque's append and popleft are atomic), taken
        # out under it by ``flush``, which takes only as many as it counted: none is lost to a race
        self.held: collections.deque[_Held] = collections.deque()
        self.due = _NOT_DUE  # when the held lines must be out: the timer's time, checked again on each line
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
        pending = self.held
        pending.append(held)
        due = self.due
        if held[0] > due or len(pending) >= FLUSH_LINES:
            self.flush()  # enough to write, or the timer did not run (its event loop stopped meanwhile)
        elif due == _NOT_DUE:
            self.first(held[0])

    def first(self, now: float) -> None:
        """A line held, taken at ``now``, and none due yet: they are written at the latest after
        ``FLUSH_SECONDS``, by a timer on this thread's event loop or, without one, at once."""
        with self.lock:  # type: ignore[union-attr]  # created by Handler.__init__
            if self.due != _NOT_DUE:
                return  # another thread's line came first
            self.due = now + FLUSH_SECONDS
            self._timer = _call_later(FLUSH_SECONDS, self.flush)
            if self._timer is None:  # no event loop in this thread to write them later: now
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
            self.due = _NOT_DUE  # before taking them: a line held from now on asks for a timer again
            pending = self.held
            take = pending.popleft
            held = [take() for _ in range(len(pending))]
            if not held:
                super().flush()  # as StreamHandler's (logging.shutdown expects its errors)
                return
            logger = self.held_for
            if logger is not None and not _routes_alone(logger, self):
                # configured otherwise since they were taken: they go where the configuration says now
                self.held_for = None
                if logger.isEnabledFor(_INFO):
                    for taken in held:
                        logger.handle(logger.makeRecord(logger.name, _INFO, __file__, 0, _line(taken), (), None,
                                                        "record"))
                return
            try:
                self.stream.write(_text(held))
                super().flush()
            except Exception:
                self.handleError(logging.makeLogRecord({"msg": _line(held[-1]), "levelno": _INFO, "levelname": "INFO"}))


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
