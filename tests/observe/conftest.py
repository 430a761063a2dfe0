"""Observability tests: a gateway with ``install`` served on a real socket, a plain HTTP client, a
strict reader of the Prometheus text format, and a sink that waits for access log lines."""

from __future__ import annotations

import io
import json
import logging
import re
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from typing import Any

import pytest

from pvegateway.observe import LOGGER, log_to


@dataclass
class Answer:
    status: int
    headers: Message
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def fetch(url: str, *, method: str = "GET", headers: dict[str, str] | None = None,
          data: bytes | None = None) -> Answer:
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # a plain HTTP gateway
            return Answer(response.status, response.headers, response.read())
    except urllib.error.HTTPError as err:
        return Answer(err.code, err.headers, err.read())


def login(base: str, password: str) -> dict[str, str]:
    answer = fetch(f"{base}/api2/json/access/ticket", method="POST",
                   data=f"username=root@pam&password={password}".encode())
    assert answer.status == 200, answer
    data = answer.json()["data"]
    return {"Cookie": f"PVEAuthCookie={urllib.parse.quote(data['ticket'], safe='')}",
            "CSRFPreventionToken": data["CSRFPreventionToken"]}


# one sample line of the 0.0.4 text format: name, optional {labels}, value
_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*)\})? '
                     r"(-?[0-9.e+-]+|\+Inf|NaN)$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\.)*)"')
_COMMENT = re.compile(r"^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)$")

Labels = frozenset[tuple[str, str]]


@dataclass
class Scrape:
    samples: dict[tuple[str, Labels], float]
    types: dict[str, str]

    def value(self, name: str, **labels: str) -> float:
        return self.samples.get((name, frozenset(labels.items())), 0.0)

    def series(self, name: str) -> dict[Labels, float]:
        return {labels: v for (n, labels), v in self.samples.items() if n == name}


def parse(text: str) -> Scrape:
    """Every line must be a HELP/TYPE comment or a sample: anything else fails the test."""
    assert text.endswith("\n")
    samples: dict[tuple[str, Labels], float] = {}
    types: dict[str, str] = {}
    for line in text.splitlines():
        comment = _COMMENT.match(line)
        if comment:
            if comment.group(1) == "TYPE":
                types[comment.group(2)] = comment.group(3)
            continue
        sample = _SAMPLE.match(line)
        assert sample, f"not a sample line: {line!r}"
        name, label_text, value = sample.groups()
        labels = frozenset(_LABEL.findall(label_text or ""))
        assert (name, labels) not in samples, f"duplicate series: {line}"
        samples[(name, labels)] = float(value)
    return Scrape(samples, types)


class Sink(io.StringIO):
    """A stream the access log writes to from the server's thread; the test waits on its lines."""

    def __init__(self) -> None:
        super().__init__()
        self.changed = threading.Condition()
        self.writes = 0

    def write(self, text: str) -> int:
        with self.changed:
            self.writes += 1
            written = super().write(text)
            self.changed.notify_all()
            return written

    def lines(self, count: int) -> list[str]:
        """The first ``count`` complete lines, once they are written (the answer reaches the client
        just before the gateway records it)."""
        with self.changed:
            assert self.changed.wait_for(lambda: self.getvalue().count("\n") >= count, timeout=10)
            return self.getvalue().splitlines()[:count]


@pytest.fixture
def access_sink() -> Iterator[Sink]:
    logger = logging.getLogger(LOGGER)
    saved = (logger.level, logger.propagate, list(logger.handlers))
    sink = Sink()
    log_to(sink)
    try:
        yield sink
    finally:
        logger.setLevel(saved[0])
        logger.propagate = saved[1]
        logger.handlers[:] = saved[2]


@pytest.fixture
def refusing_port() -> Iterator[int]:
    """A port nothing listens on (bound, never listening: connections are refused, and no other
    process can take it meanwhile)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]
