"""Fuzz every operation of the mock gateway, in-process, from its own ``/openapi.json``.

schemathesis turns each operation of the document into a Hypothesis strategy of requests; each example
is sent to the gateway's ASGI app through httpx (no socket: ~1 ms a request), authenticated as root@pam
with a ticket cookie and CSRF token, under a per-request timeout, and judged by :mod:`.checks`.

Bounded for CI: a few derandomized examples per operation, the ``explicit`` and ``generate`` phases
only (no shrinking, no example database), and the mock reset before every example (0.1 ms), so every
failure reproduces from its request alone and no example depends on what an earlier one created.
Failures are collected rather than raised, so one run reports all of them.

Half the examples pin well-known path parameters (``node=pve1``, ``vmid=100``...) to the seeded
cluster's objects: random node names only ever meet PVE's format check, pinned ones reach handlers;
:mod:`.formats` does the same for the PVE formats of other parameters.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis.config import SchemathesisConfig
from schemathesis.core.result import Err
from schemathesis.generation.case import Case
from schemathesis.schemas import APIOperation, BaseSchema

from pvegateway.apidoc.operation import Operation
from pvegateway.app import Gateway, create_app
from pvegateway.backends.mock.backend import MockBackend

from . import formats
from .checks import problems

ApiOp = APIOperation[Any, Any, Any, Any]
AnyCase = Case[Any]

BASE = "http://testserver"
API = BASE + "/api2/json"
TIMEOUT = 10.0  # seconds one request may take before it counts as a hang
USER = "root@pam"
CONTROL_KEY = "fuzz-control-key-3e7a9c1d5b"  # a test key for the /_gateway control API


def _pinned_values(path: str) -> dict[str, Any]:
    """The seeded cluster's objects for the path parameters that name them."""
    kind_vmid = 200 if "/lxc/" in path else 100
    return {"node": "pve1", "vmid": kind_vmid, "storage": "local", "userid": USER, "iface": "vmbr0"}


def fuzz_settings(examples: int) -> settings:
    return settings(
        max_examples=examples,
        derandomize=True,  # the same examples on every run and machine
        database=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: a failure is reported as generated
        deadline=None,
        suppress_health_check=list(HealthCheck),  # large PVE schemas generate slowly; that is not a failure
        report_multiple_bugs=False,
    )


@dataclass(frozen=True, slots=True)
class Failure:
    operation: str
    request: str  # method, URL and body, enough to replay it with curl
    status: int | None
    reasons: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.operation}: {'; '.join(self.reasons)}\n    {self.request}"


@dataclass
class Report:
    operations: int = 0
    examples: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[Failure] = field(default_factory=list)
    unsatisfiable: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        codes = ", ".join(f"{code}: {n}" for code, n in sorted(self.statuses.items()))
        return (f"{self.operations} operations, {self.examples} examples in {self.seconds:.1f} s "
                f"({codes}); {len(self.failures)} failures, {len(self.unsatisfiable)} unsatisfiable")


async def _served_document(gateway: Gateway) -> dict[str, Any]:
    """``/openapi.json`` as the gateway serves it."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=gateway), base_url=BASE) as client:
        response = await client.get("/openapi.json")
    response.raise_for_status()
    document: dict[str, Any] = response.json()
    return document


class Target:
    """The mock gateway, its schemathesis schema and root@pam's credentials."""

    def __init__(self, apidoc: str = "9.2") -> None:
        self.gateway: Gateway = create_app(apidoc, "mock", control_key=CONTROL_KEY)
        backend = self.gateway.backend
        assert isinstance(backend, MockBackend)
        self.backend = backend
        formats.register()
        document = asyncio.run(_served_document(self.gateway))
        self.schema: BaseSchema = schemathesis.openapi.from_dict(formats.hinted(document),
                                                                 config=SchemathesisConfig())
        self.by_key: Mapping[tuple[str, str], Operation] = {
            (op.method, op.path): op for op in self.gateway.schema.operations}
        self.seeded = backend.dump()  # what every reset must give back, whole
        now = backend.mock.clock.now()
        # the signer outlives resets, so these stay valid for the whole run (2 h)
        self.cookie = backend.signer.ticket(USER, now)
        self.csrf = backend.signer.csrf(USER, now)

    def operations(self) -> list[ApiOp]:
        found: list[ApiOp] = []
        for result in self.schema.get_all_operations():
            if isinstance(result, Err):
                raise result.err()  # an operation schemathesis cannot read is a broken document
            found.append(result.ok())
        return found

    def operation_of(self, api_operation: ApiOp) -> Operation:
        return self.by_key[(api_operation.method.upper(), api_operation.path)]

    def strategy(self, api_operation: ApiOp) -> st.SearchStrategy[AnyCase]:
        free = api_operation.as_strategy()
        params = {p.name for p in api_operation.path_parameters}
        pinned = {k: v for k, v in _pinned_values(api_operation.path).items() if k in params}
        return st.one_of(api_operation.as_strategy(path_parameters=pinned), free) if pinned else free

    def request(self, case: AnyCase) -> requests.PreparedRequest:
        """The request schemathesis' own requests transport would send, with our credentials."""
        kwargs = case.as_transport_kwargs(base_url=API)
        headers = {k: v for k, v in dict(kwargs.get("headers") or {}).items()
                   if k.lower() not in ("authorization", "cookie", "csrfpreventiontoken")}
        headers["CSRFPreventionToken"] = self.csrf
        return requests.Request(
            method=kwargs["method"], url=kwargs["url"], headers=headers, params=kwargs.get("params"),
            data=kwargs.get("data"), json=kwargs.get("json"), cookies={"PVEAuthCookie": self.cookie},
        ).prepare()


def _described(prepared: requests.PreparedRequest) -> str:
    body = prepared.body
    text = body.decode("utf-8", "backslashreplace") if isinstance(body, bytes) else (body or "")
    cut = text if len(text) <= 300 else text[:300] + "..."
    return f"{prepared.method} {prepared.url}" + (f" body={cut!r}" if cut else "")


class Runner:
    """Sends each example on one event loop and judges the answer."""

    def __init__(self, target: Target, report: Report) -> None:
        self.target = target
        self.report = report
        self.loop = asyncio.new_event_loop()
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.target.gateway), base_url=BASE)

    def close(self) -> None:
        self.loop.run_until_complete(self.client.aclose())
        self.loop.close()

    async def _send(self, prepared: requests.PreparedRequest) -> httpx.Response:
        body = prepared.body.encode() if isinstance(prepared.body, str) else prepared.body
        request = self.client.build_request(str(prepared.method), str(prepared.url),
                                            headers=dict(prepared.headers), content=body)
        return await asyncio.wait_for(self.client.send(request), TIMEOUT)

    def example(self, api_operation: ApiOp, case: AnyCase) -> None:
        self.target.backend.reset()
        prepared = self.target.request(case)
        self.report.examples += 1
        try:
            response = self.loop.run_until_complete(self._send(prepared))
        except TimeoutError:
            self._fail(api_operation, prepared, None, [f"no answer within {TIMEOUT:.0f} s"])
            return
        self.report.statuses[response.status_code] += 1
        found = problems(self.target.operation_of(api_operation), response.status_code,
                         response.headers.get("content-type", ""), response.content)
        if found:
            self._fail(api_operation, prepared, response.status_code, found)

    def _fail(self, api_operation: ApiOp, prepared: requests.PreparedRequest, status: int | None,
              reasons: list[str]) -> None:
        self.report.failures.append(Failure(api_operation.label, _described(prepared), status, tuple(reasons)))

    def operation(self, api_operation: ApiOp, examples: int) -> None:
        @fuzz_settings(examples)
        @given(case=self.target.strategy(api_operation))
        def run(case: AnyCase) -> None:
            self.example(api_operation, case)

        self.report.operations += 1
        try:
            run()
        except Unsatisfiable:
            self.report.unsatisfiable.append(api_operation.label)


def fuzz(target: Target, examples: int = 3, operations: Iterable[ApiOp] | None = None) -> Report:
    """Fuzz ``operations`` (default: every one in the document) with ``examples`` each."""
    report = Report()
    runner = Runner(target, report)
    started = time.perf_counter()
    try:
        for api_operation in target.operations() if operations is None else operations:
            runner.operation(api_operation, examples)
    finally:
        runner.close()
        target.backend.reset()
    report.seconds = time.perf_counter() - started
    return report


if __name__ == "__main__":
    result = fuzz(Target())
    print(result.summary())
    for failure in result.failures:
        print(failure)
