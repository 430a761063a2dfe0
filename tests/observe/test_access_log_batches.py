"""The access log writes its lines in batches, not one system call per request, and still loses none:
they are out shortly after the request, and at shutdown whatever is held is written."""

from __future__ import annotations

import datetime
import json
import logging
import math
import os
import re
import select
import subprocess
import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pvegateway.http.api import Exchange
from pvegateway.observe import LOGGER
from pvegateway.testing import mock_gateway
from tests.compose import observed
from tests.live import live_server

from .conftest import Sink, fetch, login

REQUESTS = 200


def test_lines_from_concurrent_clients_are_written_together(access_sink: Sink) -> None:
    # the logger as `serve` leaves it: the access log's handler alone (pytest adds capturing ones; the
    # fixture puts them back)
    logger = logging.getLogger(LOGGER)
    logger.handlers[:] = [h for h in logger.handlers
                          if isinstance(h, logging.StreamHandler) and h.stream is access_sink]
    gateway = observed(mock_gateway(), metrics=False)
    with live_server(gateway) as base:
        auth = login(base, "pvegateway")
        url = f"{base}/api2/json/nodes/pve1/qemu/100/status/current"
        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(lambda _: fetch(url, headers=auth).status, range(REQUESTS)))
        assert statuses == [200] * REQUESTS
        lines = access_sink.lines(REQUESTS + 1)  # and the login
    assert all(json.loads(line)["status"] == 200 for line in lines)
    # one write per request was a system call per request (a fifth of a cheap request's cost with
    # stdout unbuffered); held for at most FLUSH_SECONDS, a burst goes out in a few writes
    assert access_sink.writes <= REQUESTS // 4


def _access_lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith('{"time"')]


def test_served_log_is_prompt_when_idle_and_complete_at_shutdown(tmp_path: Path) -> None:
    """``pvegateway serve`` with stdout unbuffered as containers run it: a lone request's line comes
    without waiting for more traffic, and lines held when SIGTERM arrives are written before exit."""
    command = [sys.executable, "-m", "pvegateway", "serve", "--http", "--port", "0", "--state-dir", str(tmp_path)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    # unbuffered: communicate() below reads the descriptor itself, past what a buffer would hold
    with subprocess.Popen(command, stdout=subprocess.PIPE, env=env, bufsize=0) as proc:
        try:
            assert proc.stdout is not None
            found = re.search(rb"listening on (http://\S+)/api2/json", proc.stdout.readline())
            assert found
            base = found.group(1).decode()
            auth = login(base, "pvegateway")
            # the login's line, on its own: written by the timer, not by the next request or the exit
            ready, _, _ = select.select([proc.stdout], [], [], 10)
            assert ready, "the access line of a lone request was held"
            assert _access_lines(proc.stdout.readline().decode())[0]["path"] == "/access/ticket"
            request = urllib.request.Request(f"{base}/api2/json/version", headers=auth)
            for _ in range(REQUESTS):
                with urllib.request.urlopen(request, timeout=10) as response:
                    assert response.status == 200
        finally:
            proc.terminate()  # at once: the last lines are still held
            out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0
    lines = _access_lines(out.decode())
    assert len(lines) == REQUESTS
    assert {line["path"] for line in lines} == {"/version"}


def test_lines_held_before_a_configuration_change_go_where_it_says() -> None:
    """The log_to handler holds lines without looking at the logging configuration each time; when
    they are written it does: after another handler is added they reach both (nothing lost, nothing
    written twice), after the logger is turned down they are dropped."""
    import asyncio
    import io

    from pvegateway.observe.access import AccessLog, flush_held, log_to

    logger = logging.getLogger(LOGGER)
    saved = (logger.handlers[:], logger.level, logger.propagate)
    stream = io.StringIO()
    seen: list[str] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    async def scenario() -> None:
        log = AccessLog("mock")
        for status in (200, 201, 202):
            log.record(Exchange("GET", "/version", status, 0.001, None, "127.0.0.1"))
        logger.addHandler(Capture())
        for status in (203, 204):
            log.record(Exchange("GET", "/version", status, 0.001, None, "127.0.0.1"))
        flush_held()
        logger.handlers[:] = [h for h in logger.handlers if not isinstance(h, Capture)]
        log.record(Exchange("GET", "/version", 205, 0.001, None, "127.0.0.1"))
        logger.setLevel(logging.WARNING)
        log.record(Exchange("GET", "/version", 206, 0.001, None, "127.0.0.1"))
        flush_held()

    try:
        logger.handlers[:] = []
        log_to(stream)
        asyncio.run(scenario())
    finally:
        logger.handlers[:], logger.level, logger.propagate = saved
    written = [json.loads(line)["status"] for line in stream.getvalue().splitlines()]
    assert written == [200, 201, 202, 203, 204]
    assert [json.loads(line)["status"] for line in seen] == [200, 201, 202, 203, 204]



def test_an_applications_own_handler_gets_each_line_as_its_request_ends() -> None:
    """Embedded, with the application's own handler on the logger, lines are not held for a batch:
    each reaches the handler as its request ends, so a request answered means the one before it is
    logged (held lines would wait for the timer, FLUSH_SECONDS later)."""
    logger = logging.getLogger(LOGGER)
    saved = (logger.handlers[:], logger.level, logger.propagate)
    seen: list[str] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    try:
        logger.handlers[:] = [Capture()]
        logger.setLevel(logging.INFO)
        logger.propagate = False
        with live_server(observed(mock_gateway(), metrics=False)) as base:
            for answered in range(1, 6):
                assert fetch(f"{base}/api2/json/version").status == 401
                assert len(seen) >= answered - 1
    finally:
        logger.handlers[:], logger.level, logger.propagate = saved
    assert [json.loads(line)["status"] for line in seen] == [401] * len(seen)

# most answers take a few milliseconds (their durations come from a table), some up to an hour
_seconds = st.floats(0, 0.005, allow_nan=False) | st.floats(0, 3600, allow_nan=False)
_exchanges = st.builds(
    Exchange, st.text(min_size=1, max_size=8), st.none() | st.text(max_size=30), st.integers(100, 599),
    _seconds, st.none() | _seconds,
    st.none() | st.text(max_size=40))


# a few kinds of exchange, each coming again and again in any order (a line's parts are reused while
# the kind stays the same)
_batches = st.lists(_exchanges, min_size=1, max_size=4).flatmap(lambda kinds: st.lists(
    st.tuples(st.floats(0, 4e9, allow_nan=False), st.sampled_from(kinds)), min_size=1, max_size=20))


@given(_batches)
def test_each_line_is_json_with_the_exchange_as_it_was(taken: list[tuple[float, Exchange]]) -> None:
    """The lines made from cached parts (heads, tails, times, durations) say what each exchange
    was: read back by ``json`` and ``datetime``, not by the code that wrote them; one line each,
    ended by a newline."""
    from pvegateway.observe.access import _text

    text = _text([(now, *exchange) for now, exchange in taken], 0.0, '"mock"')
    assert text.endswith("\n")
    lines = text[:-1].split("\n")
    assert len(lines) == len(taken)
    for line, (now, exchange) in zip(lines, taken, strict=True):
        entry = json.loads(line)
        assert list(entry) == ["time", "method", "path", "status", "duration_ms", "backend", "upstream_ms", "client"]
        assert (entry["method"], entry["path"], entry["status"], entry["backend"], entry["client"]) == (
            exchange.method, exchange.template, exchange.status, "mock", exchange.client)
        assert _to_the_microsecond(entry["duration_ms"], exchange.seconds)
        if exchange.upstream_seconds is None:
            assert entry["upstream_ms"] is None
        else:
            assert _to_the_microsecond(entry["upstream_ms"], exchange.upstream_seconds)
        stamp = datetime.datetime.strptime(entry["time"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.UTC)
        assert stamp.timestamp() == int(now * 1000) / 1000  # to the millisecond, truncated




@pytest.mark.parametrize("field", ["method", "template", "status", "client"])
def test_exchanges_alike_but_for_one_field_each_get_their_own_line(field: str) -> None:
    """Two kinds of exchange that differ in one field only, interleaved: every line says its own
    exchange's value (a line's parts are reused while the kind stays the same)."""
    from pvegateway.observe.access import _text

    first = Exchange("GET", "/version", 200, 0.001, None, "127.0.0.1")
    second = {"method": first._replace(method="POST"), "template": first._replace(template="/nodes"),
              "status": first._replace(status=401), "client": first._replace(client="::1")}[field]
    order = [first, first, second, second, first, second]
    text = _text([(1e9 + n / 1000, *exchange) for n, exchange in enumerate(order)], 0.0, '"mock"')
    key = "path" if field == "template" else field
    assert [json.loads(line)[key] for line in text[:-1].split("\n")] == [getattr(e, field) for e in order]

@given(st.lists(st.tuples(st.integers(0, 4_000_000_000_000), st.integers(-4, 4)), min_size=1, max_size=30))
def test_times_at_the_edge_of_a_millisecond_are_stamped_with_their_own(edges: list[tuple[int, int]]) -> None:
    """A batch reuses one millisecond's stamp across the lines that share it: times a few floats
    either side of a millisecond's start, in time order as requests end, each keep the millisecond
    they truncate to (read back by ``datetime``)."""
    from pvegateway.observe.access import _text

    times = []
    for milli, steps in edges:
        now = milli / 1000
        for _ in range(abs(steps)):
            now = math.nextafter(now, math.inf if steps > 0 else 0.0)
        times.append(now)
    times.sort()
    text = _text([(now, "GET", "/version", 200, 0.001, None, None) for now in times], 0.0, '"mock"')
    for line, now in zip(text[:-1].split("\n"), times, strict=True):
        stamp = datetime.datetime.strptime(json.loads(line)["time"], "%Y-%m-%dT%H:%M:%S.%fZ")
        assert stamp.replace(tzinfo=datetime.UTC).timestamp() == int(now * 1000) / 1000

def _to_the_microsecond(milliseconds: float, seconds: float) -> bool:
    return abs(milliseconds - seconds * 1000) <= 0.0005 + 1e-9 * seconds * 1000
