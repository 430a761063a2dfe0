"""A pytest plugin: a fresh in-memory PVE cluster, served on 127.0.0.1, for every test that asks for one.

Installed with pvegateway (entry point ``pytest11``), so nothing needs importing or registering::

    def test_my_automation(pve_mock):
        requests.get(f"{pve_mock.api_url}/version")        # 401: log in first, as with PVE

    @pytest.mark.pve_mock(tls=True)                         # proxmoxer only speaks https
    def test_with_proxmoxer(pve_mock):
        prox = pve_mock.proxmoxer()                         # ProxmoxAPI logged in as root@pam
        assert [n["node"] for n in prox.nodes.get()] == ["pve1", "pve2", "pve3"]

Fixtures:

``pve_mock``
    A real uvicorn server on a socket bound before the test starts (clients connect at once: nothing
    waits or polls), serving a cluster of its own, stopped after the test. Plain HTTP unless asked for
    TLS. Gives a :class:`PVEMock`: ``url``, ``api_url``, ``host``, ``port``, ``user``, ``password``,
    ``verify`` (the certificate's path under TLS, for ``requests``/proxmoxer ``verify_ssl``),
    ``fingerprint`` and ``control``.
``pve_mock_app``
    The same cluster without a server, for in-process tests: a :class:`PVEMockApp`, an ASGI app, so
    ``httpx.AsyncClient(transport=httpx.ASGITransport(app=pve_mock_app), base_url="https://pve1:8006")``.

Options, by marker ``@pytest.mark.pve_mock(...)`` or indirect parametrization
(``@pytest.mark.parametrize("pve_mock", [{"tls": True}], indirect=True)``; a parameter wins over the
marker): ``tls`` (bool), ``apidoc`` (schema version, default the newest installed), ``seed`` (a seed
file), ``root_password``, ``tasks`` (``immediate`` | ``polls:N`` | ``delay:SECONDS``), ``auth_delay``.

``control`` (:class:`Control`) changes the cluster behind the API's back: ``reset()``, ``dump()``,
``set_tasks(mode)``, ``advance(seconds)`` (the mock's clock: task delays and ticket ages),
``finish_tasks()``, faults (``fail``, ``fail_task``, ``delay``, ``clear_faults``, ``set_online``,
``set_full``: :mod:`pvegateway.backends.mock.faults`), and ``backend`` / ``cluster`` for direct access.
Calls run on the server's event loop, so they never interleave with a request.

Cost: the schema is loaded once per process and version, on first use (``make bench`` prints its
load time); after that a test's cluster and server are cheap: no schema work, one socket. The TLS
certificate is made once per session.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

from .testing_server import ThreadedServer

if TYPE_CHECKING:
    from starlette.types import Receive, Scope, Send

    from .apidoc.schema import Schema
    from .app import Gateway
    from .backends.mock.backend import MockBackend
    from .backends.mock.state import Cluster
    from .extension import Extension
    from .http.api import Limiter, Observer

T = TypeVar("T")

DEFAULT_USER = "root@pam"
DEFAULT_PASSWORD = "pvegateway"  # noqa: S105  # nosec B105 # the mock's documented default
_OPTIONS = frozenset({"tls", "apidoc", "seed", "root_password", "tasks", "auth_delay"})


@cache
def _schema(apidoc: str | None) -> Schema:
    from .apidoc.schema import load_schema

    return load_schema(apidoc)


def mock_gateway(apidoc: str | os.PathLike[str] | None = None, *, send_reason: bool = True,
                 limiter: Limiter | None = None, observer: Observer | None = None,
                 extensions: Sequence[Extension] = (), **options: Any) -> Gateway:
    """A mock gateway with its own cluster; the schema is loaded once per process and version.

    ``options`` are :class:`~pvegateway.backends.mock.backend.MockOptions` fields. ``send_reason``:
    PVE's reason phrases, for the gateway's own uvicorn protocol (off for in-process use). ``limiter``,
    ``observer`` and ``extensions`` as for ``create_app``.
    """
    from .app import Gateway
    from .backends.mock.backend import MockBackend, MockOptions

    schema = _schema(None if apidoc is None else os.fspath(apidoc))
    options.setdefault("secret", os.urandom(32))
    backend = MockBackend(schema.operations, MockOptions(**options))
    return Gateway(schema, backend, send_reason=send_reason, limiter=limiter, observer=observer,
                   extensions=extensions)


class Control:
    """The cluster behind the API: reset, dump, task progression, the clock, and the backend itself."""

    def __init__(self, gateway: Gateway, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.gateway = gateway
        self._loop = loop

    def _run(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the server's loop (between requests), or here when there is no server."""
        loop = self._loop
        if loop is None or not loop.is_running() or _running_loop() is loop:
            return fn()
        done: concurrent.futures.Future[T] = concurrent.futures.Future()

        def call() -> None:
            try:
                done.set_result(fn())
            except BaseException as err:  # handed to the caller
                done.set_exception(err)

        loop.call_soon_threadsafe(call)
        return done.result(timeout=30)

    @property
    def backend(self) -> MockBackend:
        from .backends.mock.backend import MockBackend

        backend = self.gateway.backend
        if not isinstance(backend, MockBackend):  # an explicit check: asserts vanish under -O
            raise TypeError(f"this gateway's backend is {type(backend).__name__}, not the mock")
        return backend

    @property
    def cluster(self) -> Cluster:
        """The live state (changes with :meth:`reset`): nodes, storages, guests, users, tasks..."""
        return self.backend.mock.cluster

    def reset(self, seed: Mapping[str, Any] | None = None) -> None:
        """Back to the seed the cluster started from, whole (or to ``seed``, which later resets go back
        to); tickets stay valid. The seed is kept as a copy: nothing done to the cluster, or to ``seed``
        after the call, changes what a reset gives back."""
        self._run(lambda: self.backend.reset(seed))

    def dump(self) -> dict[str, Any]:
        """The whole cluster as a seed (JSON-ready, a copy): what ``reset(seed)`` or ``--seed`` accept, and
        ``reset(dump())`` builds the same cluster again. The format: :mod:`pvegateway.backends.mock.snapshot`."""
        return self._run(self.backend.dump)

    def set_tasks(self, mode: str) -> None:
        """Task progression from now on (also after a reset): immediate, polls:N or delay:SECONDS."""
        from .backends.mock.tasks import Progression

        progression = Progression.parse(mode)

        def apply() -> None:
            self.backend.options.tasks = mode
            self.backend.mock.tasks.progression = progression

        self._run(apply)

    def advance(self, seconds: float) -> None:
        """Move the mock's clock forward: delayed tasks finish, tickets age (PVE's limit: 2 hours)."""
        self._run(lambda: self.backend.mock.clock.advance(seconds))

    def finish_tasks(self) -> None:
        """Stop every running task now, applying its effect."""
        self._run(self.backend.mock.tasks.finish_all)

    # --- fault injection (pvegateway.backends.mock.faults) ------------------------------------------

    def fail(self, operation: str | None = None, *, message: str | None = None, status: int | None = None,
             errors: Mapping[str, str] | None = None, node: str | None = None, vmid: int | None = None,
             times: int | None = None) -> int:
        """Make matching calls fail with ``status`` (500; 400 with ``errors``) and ``message``, the next
        ``times`` ones or all. ``operation``: ``"POST /nodes/{node}/qemu"`` or its id; none: any. The
        fault's id."""
        return self._fault({"kind": "error", "operation": operation, "message": message, "status": status,
                            "errors": errors, "node": node, "vmid": vmid, "times": times})

    def fail_task(self, operation: str | None = None, *, message: str, node: str | None = None,
                  vmid: int | None = None, times: int | None = None) -> int:
        """Matching calls answer their UPID, and the task ends with ``message`` (``TASK ERROR: ...``)."""
        return self._fault({"kind": "task", "operation": operation, "message": message, "node": node,
                            "vmid": vmid, "times": times})

    def delay(self, operation: str | None = None, *, seconds: float, node: str | None = None,
              vmid: int | None = None, times: int | None = None) -> int:
        """Matching calls answer ``seconds`` late (other requests are not held up)."""
        return self._fault({"kind": "latency", "operation": operation, "seconds": seconds, "node": node,
                            "vmid": vmid, "times": times})

    def _fault(self, spec: dict[str, Any]) -> int:
        given = {k: v for k, v in spec.items() if v is not None}
        return self._run(lambda: self.backend.add_fault(given).id)

    def clear_faults(self, ident: int | None = None) -> None:
        """Take out the fault ``ident``, or every fault (a reset does too)."""
        self._run(lambda: self.backend.remove_faults(ident))

    def set_online(self, node: str, online: bool) -> None:
        """Take ``node`` offline (calls proxied to it answer 595 No route to host) or back online."""
        self._run(lambda: self.backend.set_online(node, online))

    def set_full(self, storage: str, full: bool = True) -> None:
        """Fill ``storage`` (avail 0, new disks fail with its plugin's error) or give its space back."""
        self._run(lambda: self.backend.set_full(storage, full))

    def call(self, fn: Callable[[MockBackend], T]) -> T:
        """``fn(backend)`` on the server's loop: for direct changes that must not race a request."""
        return self._run(lambda: fn(self.backend))


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


@dataclass
class PVEMock:
    """A running mock cluster: where it listens, how to log in, and its control handle."""

    host: str
    port: int
    tls: bool
    control: Control
    user: str = DEFAULT_USER
    password: str = DEFAULT_PASSWORD
    certificate: str | None = None
    fingerprint: str | None = None
    clients: list[Any] = field(default_factory=list, repr=False)  # proxmoxer sessions, closed at the end

    @property
    def url(self) -> str:
        """``http(s)://127.0.0.1:PORT``: the server's root."""
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    @property
    def api_url(self) -> str:
        """``.../api2/json``: what PVE clients call their base URL."""
        return f"{self.url}/api2/json"

    @property
    def verify(self) -> str | bool:
        """For ``requests``' ``verify`` / proxmoxer's ``verify_ssl``: the certificate under TLS."""
        return self.certificate if self.certificate is not None else False

    @property
    def app(self) -> Gateway:
        return self.control.gateway

    def proxmoxer(self, **kwargs: Any) -> Any:
        """A ``proxmoxer.ProxmoxAPI`` for this cluster (root@pam's password unless ``kwargs`` say else).

        proxmoxer only speaks https: mark the test ``@pytest.mark.pve_mock(tls=True)``.
        """
        if not self.tls:
            raise RuntimeError("proxmoxer needs https: mark the test @pytest.mark.pve_mock(tls=True)")
        from proxmoxer import ProxmoxAPI

        options: dict[str, Any] = {"user": self.user, "verify_ssl": self.verify}
        if "token_name" not in kwargs:
            options["password"] = self.password
        options.update(kwargs)
        api = ProxmoxAPI(self.host, port=self.port, **options)
        self.clients.append(api)
        return api

    def close_clients(self) -> None:
        """Close the connections of the proxmoxer clients made here: a test need not (and a socket left
        to the garbage collector is a ResourceWarning in some later test)."""
        for api in self.clients:
            api._store["session"].close()
        self.clients.clear()


@dataclass
class PVEMockApp:
    """The mock as an in-process ASGI app (no server), with its control handle."""

    gateway: Gateway
    control: Control
    user: str = DEFAULT_USER
    password: str = DEFAULT_PASSWORD

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.gateway(scope, receive, send)




@contextlib.contextmanager
def running_mock(
    *, tls: bool = False, certificate: tuple[Path, Path, str] | None = None, state_dir: Path | None = None,
    apidoc: str | os.PathLike[str] | None = None, **options: Any,
) -> Iterator[PVEMock]:
    """A mock cluster served on 127.0.0.1 for the duration of the ``with`` block (outside pytest too).

    Under ``tls``, ``certificate`` is ``statedir.certificate(dir)``'s answer; without it one is made in
    ``state_dir`` (required then).
    """
    if tls and certificate is None:
        if state_dir is None:
            raise ValueError("tls needs a certificate or a state_dir to make one in")
        from .statedir import certificate as make_certificate

        certificate = make_certificate(state_dir)
    gateway = mock_gateway(apidoc, **options)
    cert, key, fingerprint = certificate if tls and certificate else (None, None, None)
    server = ThreadedServer(gateway, str(cert) if cert else None, str(key) if key else None)
    control = Control(gateway, server.loop)
    password = str(options.get("root_password") or gateway_root_password(control))
    mock = PVEMock("127.0.0.1", server.port, tls, control, DEFAULT_USER, password,
                   str(cert) if cert else None, fingerprint)
    server.start()
    try:
        yield mock
    finally:
        mock.close_clients()
        server.close()


def gateway_root_password(control: Control) -> str:
    user = control.cluster.users.get(DEFAULT_USER)
    return user.password if user is not None and user.password else DEFAULT_PASSWORD


# --- pytest ------------------------------------------------------------------------------------------


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "pve_mock(tls=False, apidoc=None, seed=None, root_password=None, tasks='immediate', "
                   "auth_delay=0): options of the pve_mock / pve_mock_app fixtures (pvegateway.testing)"
    )


def _options(request: pytest.FixtureRequest) -> dict[str, Any]:
    options: dict[str, Any] = {}
    marker = request.node.get_closest_marker("pve_mock")
    if marker is not None:
        if marker.args:
            raise pytest.UsageError("pve_mock marker: keyword options only, e.g. @pytest.mark.pve_mock(tls=True)")
        options.update(marker.kwargs)
    param = getattr(request, "param", None)
    if param is not None:
        if not isinstance(param, Mapping):
            raise pytest.UsageError("pve_mock parameter: a dict of options, e.g. {'tls': True}")
        options.update(param)
    unknown = set(options) - _OPTIONS
    if unknown:
        raise pytest.UsageError(f"pve_mock: unknown option(s) {sorted(unknown)}; known: {sorted(_OPTIONS)}")
    return {k: v for k, v in options.items() if v is not None}


@pytest.fixture(scope="session")
def pve_mock_certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """A self-signed certificate for 127.0.0.1 (made once a session): cert path, key path, fingerprint."""
    from .statedir import certificate

    return certificate(tmp_path_factory.mktemp("pve-mock-tls"))


@pytest.fixture
def pve_mock(request: pytest.FixtureRequest) -> Iterator[PVEMock]:
    """A fresh mock PVE cluster served on 127.0.0.1 for this test (see :mod:`pvegateway.testing`)."""
    options = _options(request)
    tls = bool(options.pop("tls", False))
    certificate = request.getfixturevalue("pve_mock_certificate") if tls else None
    with running_mock(tls=tls, certificate=certificate, **options) as mock:
        yield mock


@pytest.fixture
def pve_mock_app(request: pytest.FixtureRequest) -> PVEMockApp:
    """A fresh mock PVE cluster as an in-process ASGI app (for httpx's ASGITransport)."""
    options = _options(request)
    options.pop("tls", None)
    gateway = mock_gateway(send_reason=False, **options)
    control = Control(gateway)
    return PVEMockApp(gateway, control, DEFAULT_USER, str(options.get("root_password") or
                                                           gateway_root_password(control)))
