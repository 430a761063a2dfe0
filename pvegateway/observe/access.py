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
import itertools
import logging
import math
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from json.encoder import encode_basestring
from typing import IO

from ..http.api import Ended, Exchange

LOGGER = "pvegateway.access"
_INFO = logging.INFO
_string: Callable[[str], str] = encode_basestring  # a JSON string literal, quotes included (C code)
_second_cache: tuple[int, str] = (-1, "")  # a second, and how a line taken in it starts
_MILLIS = [f'.{milli:03d}Z",' for milli in range(1000)]  # how it goes on, by millisecond
_PLAIN = logging.Formatter("%(message)s")
# The exchanges an ``AccessLog`` holds before one write to ``log_to``'s handler: at most this long (a
# reader tailing the log sees them promptly) or this many (about 32 KiB of lines: a pipe's default 64 KiB
# holds two such writes, so a write seldom waits, blocking the event loop, for a reader a little late),
# and whatever is held at exit. One write per request was a system call per request: with stdout
# unbuffered, as containers set it, ~20% of the throughput of a cheap request. A write costs ~35 us
# whatever its size (~20 of them the pipe's, waking its reader): 180 lines a write make that 0.2 us each.
FLUSH_SECONDS = 0.1
FLUSH_LINES = 180
_LIVE: weakref.WeakSet[AccessLog] = weakref.WeakSet()  # whose held exchanges are written at exit


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
    micros = int(seconds * 1e6 + 0.5)
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
    """What a line taken at ``now`` starts with (its time, ISO 8601 UTC to the millisecond), and the
    span of times ``[since, until)`` that start the same way: exactly those whose ``int(t * 1000)`` is
    ``now``'s (a product rounded to a float and truncated never decreases as ``t`` grows, so checking
    the span's ends against that truncation is enough). The part up to the second is formatted once a
    second, the milliseconds come from a table."""
    global _second_cache
    milli = int(now * 1000)
    second, rest = divmod(milli, 1000)
    cached = _second_cache
    if cached[0] != second:
        cached = _second_cache = (second, '{"time":"' + time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
    since = milli / 1000
    while int(since * 1000) < milli:
        since = math.nextafter(since, math.inf)
    until = (milli + 1) / 1000
    while int(math.nextafter(until, -math.inf) * 1000) > milli:
        until = math.nextafter(until, -math.inf)
    return cached[1] + _MILLIS[rest], since, until


def _text(held: Iterable[Ended], offset: float, backend: str) -> str:
    """The lines of the exchanges held, each ended by a newline, as one text: the parts that repeat,
    the time to the millisecond and the duration looked up without a call per line, and the pieces
    joined once (a batch has up to ``FLUSH_LINES``; this is most of what the access log costs). An
    exchange's time is its end on the wall clock: ``perf_counter()`` then, plus ``offset``; the
    backend is a JSON string literal already."""
    pieces: list[str] = []
    extend = pieces.extend
    parts, durations, tabulated = _parts, _durations, _TABULATED
    stamp, since, until = "", 0.0, 0.0
    # the last line's parts, and what they were made of: the next is often the same kind of request
    head = tail = ""
    last_method: str | None = None
    last_template = last_client = None
    last_status = 0
    for ended, method, template, status, seconds, upstream, client in held:
        now = ended + offset
        if not since <= now < until:
            stamp, since, until = _millisecond_of(now)
        micros = int(seconds * 1e6 + 0.5)
        duration = durations[micros] if 0 <= micros < tabulated else None
        if duration is None:
            duration = _milliseconds(seconds)
        if upstream is not None:
            extend((stamp, _head(method, template, status), duration, _tail(backend, upstream, client)))
            continue
        if method != last_method or template != last_template or status != last_status or client != last_client:
            both = parts.get((method, template, status, backend, client))
            head, tail = both if both is not None else _parts_of(method, template, status, backend, client)
            last_method, last_template, last_status, last_client = method, template, status, client
        extend((stamp, head, duration, tail))
    return "".join(pieces)


def _line(ended: Ended, offset: float, backend: str) -> str:
    """The JSON line of one exchange (see ``_text``). A template of None (no operation matched: PVE's
    401s, 501s) is logged as no path at all."""
    return _text((ended,), offset, backend)[:-1]


class AccessLog:
    """An ``Observer`` writing one line per exchange, taking them in batches (``api.Batching``).

    Cost matters next to a request that the gateway answers itself: exchanges are held as they end
    (the request path appends one tuple and compares a length), and their lines are made and written
    together (see ``FLUSH_SECONDS``), when the logger's only handler is ``log_to``'s, or when the
    logger is off (lines held meanwhile go where the configuration says when they are written: a
    logger turned on or given a handler in between gets them). Otherwise (an application's own
    handlers) each exchange is written as it ends, through ``logger.handle``, so that any logging
    configuration works as it expects.
    """

    def __init__(self, backend: str, logger: logging.Logger | None = None) -> None:
        self.backend = backend
        self.logger = logger or logging.getLogger(LOGGER)
        self._backend = _string(backend)
        # appended to without the lock (a deque's append and popleft are atomic); ``write`` takes out,
        # under it, only as many as it counted: none is lost to another thread's exchange
        self.held: collections.deque[Ended] = collections.deque()
        self.due = 1  # the first exchange held asks ``take`` whether to wait for more
        self._lock = threading.RLock()
        self._timer: asyncio.TimerHandle | None = None
        _LIVE.add(self)

    def record(self, exchange: Exchange) -> None:
        self.record_fields(*exchange)

    def record_fields(self, method: str, template: str | None, status: int, seconds: float,
                      upstream_seconds: float | None, client: str | None) -> None:
        """``record`` without an Exchange made for it (see ``api.RecordFields``)."""
        held = self.held
        held.append((time.perf_counter(), method, template, status, seconds, upstream_seconds, client))
        if len(held) >= self.due:
            self.take()

    def take(self) -> None:
        """Called when ``due`` exchanges are held: the first one since a write waits, on a timer of this
        thread's event loop, for up to ``FLUSH_SECONDS`` or ``FLUSH_LINES`` of them when they can go
        to ``log_to``'s handler or nowhere; anything else is written now."""
        with self._lock:
            if self._timer is None and len(self.held) < FLUSH_LINES and self._batched():
                self._timer = _call_later(FLUSH_SECONDS, self.write)
                if self._timer is not None:
                    self.due = FLUSH_LINES
                    return
            self.write()

    def _batched(self) -> bool:
        logger = self.logger
        return not logger.isEnabledFor(_INFO) or _lone_handler(logger) is not None

    def write(self) -> None:
        """Write what is held, where the logging configuration says now."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self.due = 1  # before taking them: an exchange held from now on asks ``take`` again
            held = self.held
            taken = list(itertools.starmap(held.popleft, itertools.repeat((), len(held))))  # popped in C
            logger = self.logger
            if not taken or not logger.isEnabledFor(_INFO):
                return
            offset = time.time() - time.perf_counter()
            handler = _lone_handler(logger)
            if handler is not None:
                handler.write_text(_text(taken, offset, self._backend))
                return
            for ended in taken:
                line = _line(ended, offset, self._backend)
                logger.handle(logger.makeRecord(logger.name, _INFO, __file__, 0, line, (), None, "record"))


def _lone_handler(logger: logging.Logger) -> _AccessHandler | None:
    """``log_to``'s handler when a line at INFO on ``logger`` goes to it only, written as it is."""
    handlers = logger.handlers
    if len(handlers) != 1 or logger.propagate or logger.filters:
        return None
    handler = handlers[0]
    if (type(handler) is not _AccessHandler or handler.filters or handler.level > _INFO
            or handler.formatter is not _PLAIN):
        return None
    return handler


class _AccessHandler(logging.StreamHandler[IO[str]]):
    """The handler ``log_to`` adds, told apart from handlers an application added itself: an
    ``AccessLog`` hands it a batch's lines as one text (see ``write_text``)."""

    def write_text(self, text: str) -> None:
        """Lines, each ended by a newline, in one write; a failure is reported as ``emit``'s are."""
        with self.lock:  # type: ignore[union-attr]  # created by Handler.__init__
            if getattr(self.stream, "closed", False):
                return  # a stream closed since (a test's capture): nowhere to go
            try:
                self.stream.write(text)
                self.flush()
            except Exception:
                last = text[text.rfind("\n", 0, len(text) - 1) + 1:-1]
                self.handleError(logging.makeLogRecord({"msg": last, "levelno": _INFO, "levelname": "INFO"}))


def _call_later(delay: float, callback: Callable[[], None]) -> asyncio.TimerHandle | None:
    """``callback`` on this thread's running event loop after ``delay``; None without one."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return None
    return loop.call_later(delay, callback)


def flush_held() -> None:
    """Write what every ``AccessLog`` holds. ``log_to`` has it run at interpreter exit, so that no line
    is lost when the server stops (``logging.shutdown`` flushes handlers, not what is held for them)."""
    for log in list(_LIVE):
        log.write()


def log_to(stream: IO[str] | None = None) -> logging.Handler:
    """Write the access log as bare JSON lines to ``stream`` (stdout by default), apart from other logs.

    For ``pvegateway serve``; an embedding application usually configures ``pvegateway.access`` itself.
    Calling it again replaces the handler it added before rather than doubling every line.
    """
    logger = logging.getLogger(LOGGER)
    olds = [h for h in logger.handlers if isinstance(h, _AccessHandler)]
    if olds:
        flush_held()  # what is held goes where it was meant to
    for old in olds:
        logger.removeHandler(old)
    handler = _AccessHandler(stream if stream is not None else sys.stdout)
    handler.setFormatter(_PLAIN)
    atexit.unregister(flush_held)  # once, however often log_to is called
    atexit.register(flush_held)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False  # the JSON lines stay out of the application's text log
    return handler
