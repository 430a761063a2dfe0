"""The product as users run it: ``pvegateway serve --mode mock`` beside a bare Starlette app, in one run.

Each gateway is started from the command line as the README starts it (TLS by default, or ``--http``),
seeded with 1,000 guests (``--seed``), with its default access log on stdout, ``PYTHONUNBUFFERED=1`` as
containers set it, and that stdout a pipe the bench reads, like a container runtime's. Requests carry a
ticket cookie (writes also the CSRF token) or an API token. The reference is a bare one-route-per-request
Starlette app (``bench/serve.py``) under the same uvicorn, answering the gateway's own bytes.

All servers stay up for the whole run and wrk (-t1 -c32) alternates between them within each round, so
they share the machine's noise; a ratio is taken within a round, and the table shows the median over
rounds with its range. ``GET /nodes`` and ``GET /cluster/resources`` also run against fakepve 0.5.0 beside
the TLS gateway (``bench/beside_fakepve.py``; ``BENCH_FAKEPVE=0``: not). ``python bench/served.py`` prints
the table; ``bench/run.py`` calls :func:`run`.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import beside_fakepve
from benchkit import FAKEPVE_CREATE_RPS, free_port, main_printing, record, rss_mb, run_wrk

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
CLI = str(Path(PY).with_name("pvegateway"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "32"))
DURATION = os.environ.get("BENCH_DURATION", "2s")
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
GUESTS = 1000
PASSWORD = "pvegateway"  # nosec B105 # the mock's, handed over in PVEGATEWAY_ROOT_PASSWORD
READ_RATIO, CREATE_TIMES, STARTUP_S, LOG_COST, RSS_MB = 0.6, 20.0, 0.5, 0.05, 80.0
LOG_AB_TIMES = 5  # turns of the access log's A/B a round: its cost is a few percent, one pair's noise as much

READS = {
    "GET /version": "/api2/json/version",
    "GET /nodes": "/api2/json/nodes",
    "GET /cluster/resources": "/api2/json/cluster/resources",
    "GET .../qemu/100/status/current": "/api2/json/nodes/pve1/qemu/100/status/current",
    f"GET /nodes/pve3/qemu ({GUESTS:,} guests)": "/api2/json/nodes/pve3/qemu",
}
GUEST_LIST = "/api2/json/nodes/pve3/qemu"
TOKEN_READS = ("GET /version", "GET .../qemu/100/status/current")  # by API token and over TLS too
FAKEPVE_READS = ("GET /nodes", "GET /cluster/resources")  # beside fakepve, both over TLS (BENCH_FAKEPVE=0: not)
FAKEPVE = os.environ.get("BENCH_FAKEPVE", "1") != "0"
VS_FAKEPVE, FAKEPVE_SIDE = "TLS gateway, vs fakepve", "fakepve TLS ticket"
LOG_AB = "GET /version, access log A/B"
CREATE = ("POST", "/api2/json/nodes/pve1/qemu", "vmid={vmid}&name=bench&memory=512&cores=1")
UPDATE = ("PUT", "/api2/json/nodes/pve1/qemu/100/config", "description=bench&cores=2")
WRITES = {"POST /nodes/pve1/qemu (create VM)": CREATE, "PUT .../qemu/100/config": UPDATE}

# one request per wrk call from a Lua script: the method, a body whose {vmid} counts up from BENCH_VMID
WRK_SCRIPT = """
local body = os.getenv("BENCH_BODY")
local counter = tonumber(os.getenv("BENCH_VMID"))
wrk.method = os.getenv("BENCH_METHOD")
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
request = function()
  counter = counter + 1
  local text = string.gsub(body, "{vmid}", tostring(counter))
  return wrk.format(nil, nil, nil, text)
end
"""


def seed_file(directory: Path) -> Path:
    """The default cluster plus guests up to ``GUESTS`` QEMU VMs on pve3, stopped."""
    from pvegateway.backends.mock.seed import DEFAULT_SEED

    guests = [*DEFAULT_SEED["guests"]]
    qemu = sum(1 for guest in guests if guest["kind"] == "qemu")
    guests += [{"vmid": 1000 + i, "kind": "qemu", "node": "pve3", "status": "stopped",
                "config": {"name": f"guest{i}", "memory": "1024", "cores": "1", "ostype": "l26"}}
               for i in range(GUESTS - qemu + 1)]
    path = directory / "seed.json"
    path.write_text(json.dumps({**DEFAULT_SEED, "guests": guests}))
    return path


@dataclass
class Server:
    """A server process, its stdout drained by a thread that counts access-log lines."""

    name: str
    base: str
    proc: subprocess.Popen[bytes]
    startup_s: float = float("nan")
    startup_cpu_s: float = float("nan")
    lines: int = 0
    requests: int = 0  # answered by it according to wrk and the bench's own setup requests
    _reader: threading.Thread | None = field(default=None, repr=False)

    def drain(self) -> None:
        """Read stdout in large chunks and count the access log's lines in C: a reader spending Python
        per line would take a good part of a core from the server on this 2-core machine."""
        assert self.proc.stdout is not None
        fd, marker, carry = self.proc.stdout.fileno(), b'\n{"time"', b"\n"  # the first line starts a line too
        while chunk := os.read(fd, 1 << 16):
            text = carry + chunk
            self.lines += text.count(marker)
            carry = text[-(len(marker) - 1):]

    def request(self, method: str, path: str, body: str | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        parsed = urllib.parse.urlsplit(self.base)
        if parsed.scheme == "https":
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                parsed.hostname or "", parsed.port, timeout=30, context=_insecure())
        else:
            conn = http.client.HTTPConnection(parsed.hostname or "", parsed.port, timeout=30)
        try:
            extra = {"Content-Type": "application/x-www-form-urlencoded"} if body is not None else {}
            conn.request(method, path, body=body, headers={**extra, **(headers or {})})
            response = conn.getresponse()
            self.requests += 1
            return response.status, response.read()
        finally:
            conn.close()


def _insecure() -> ssl.SSLContext:
    """The servers' self-signed certificates on 127.0.0.1: this client only sets the stage."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


LOGIN = ("POST", "/api2/json/access/ticket", urllib.parse.urlencode({"username": "root@pam", "password": PASSWORD}))


def _wait_answer(server: Server, started: float, deadline: float, probe: tuple[str, str, str | None]) -> None:
    """Until ``probe`` (a client's first request: the gateway's login, the reference's one route) is
    answered: the time users wait after starting it, and the CPU time the server took for it."""
    while time.perf_counter() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(f"{server.name} exited with {server.proc.returncode}")
        try:
            status, _ = server.request(*probe)
        except OSError:
            time.sleep(0.005)
            continue
        if status != 200:
            raise RuntimeError(f"{server.name}: {probe[0]} {probe[1]} answered {status}")
        server.startup_s = time.perf_counter() - started
        server.startup_cpu_s = cpu_seconds(server.proc.pid)
        return
    raise RuntimeError(f"{server.name} did not answer within its deadline")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def started(name: str, argv: list[str], base: str, env: dict[str, str],
            probe: tuple[str, str, str | None]) -> Iterator[Server]:
    # as an installed package runs: with its bytecode cached (pip compiles it; this tree's first start does)
    env = {key: value for key, value in env.items() if key != "PYTHONDONTWRITEBYTECODE"}
    begin = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE)
    server = Server(name, base, proc)
    server._reader = threading.Thread(target=server.drain, daemon=True)
    server._reader.start()
    try:
        _wait_answer(server, begin, begin + 60, probe)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        server._reader.join(timeout=10)


def gateway(name: str, directory: Path, *, tls: bool, seed: Path | None, flags: tuple[str, ...] = (),
            unbuffered: bool = True) -> contextlib.AbstractContextManager[Server]:
    port = free_port()
    argv = [CLI, "serve", "--mode", "mock", "--port", str(port), "--state-dir", str(directory / "state"),
            *(["--seed", str(seed)] if seed else []), *([] if tls else ["--http"]), *flags]
    env = {**os.environ, "PVEGATEWAY_ROOT_PASSWORD": PASSWORD}
    env.pop("PYTHONUNBUFFERED", None)
    if unbuffered:
        env["PYTHONUNBUFFERED"] = "1"
    return started(name, argv, f"{'https' if tls else 'http'}://127.0.0.1:{port}", env, LOGIN)


def reference(name: str, answers: Path, tls: tuple[Path, Path] | None) -> contextlib.AbstractContextManager[Server]:
    port = free_port()
    argv = [PY, "-m", "bench.serve", "--port", str(port), "--answers", str(answers),
            *(["--tls", *map(str, tls)] if tls else [])]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    probe = ("GET", next(iter(json.loads(answers.read_text()))).split(" ", 1)[1], None)
    return started(name, argv, f"{'https' if tls else 'http'}://127.0.0.1:{port}", env, probe)


@dataclass(frozen=True)
class Credentials:
    ticket: dict[str, str]  # the headers of a browser-like caller: cookie (and CSRF token for writes)
    token: dict[str, str]  # an API token's Authorization header


def credentials(server: Server) -> Credentials:
    status, text = server.request(*LOGIN)
    if status != 200:
        raise RuntimeError(f"{server.name}: login answered {status}")
    data = json.loads(text)["data"]
    ticket = {"Cookie": f"PVEAuthCookie={urllib.parse.quote(data['ticket'], safe='')}",
              "CSRFPreventionToken": data["CSRFPreventionToken"]}
    status, text = server.request("POST", "/api2/json/access/users/root@pam/token/bench", "privsep=0", ticket)
    if status != 200:
        raise RuntimeError(f"{server.name}: token creation answered {status}")
    token = {"Authorization": f"PVEAPIToken=root@pam!bench={json.loads(text)['data']['value']}"}
    return Credentials(ticket, token)


def fakepve(stack: contextlib.ExitStack, tmp: Path) -> tuple[Server | None, dict[str, str], str]:
    """fakepve started (its virtualenv made on first use) and its ticket cookie; or None and why not."""
    if not FAKEPVE:
        return None, {}, "BENCH_FAKEPVE=0"
    interpreter, why = beside_fakepve.python()
    if interpreter is None:
        return None, {}, why
    port = free_port()
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    server = stack.enter_context(started("fakepve", beside_fakepve.argv(interpreter, beside_fakepve.guests_file(tmp),
                                                                       port), f"https://127.0.0.1:{port}", env,
                                         beside_fakepve.LOGIN))
    status, text = server.request(*beside_fakepve.LOGIN)
    # as proxmoxer sends it: fakepve does not decode a percent-encoded cookie
    ticket = {"Cookie": f"PVEAuthCookie={json.loads(text)['data']['ticket']}"}
    for label in FAKEPVE_READS:  # a side answering 401 fast would look good
        status, text = server.request("GET", READS[label], headers=ticket)
        if status != 200 or "data" not in json.loads(text):
            raise RuntimeError(f"fakepve GET {READS[label]}: HTTP {status}")
    return server, ticket, f"fakepve {beside_fakepve.VERSION}"


def answer(server: Server, method: str, path: str, body: str | None, headers: dict[str, str]) -> str:
    """The gateway's answer, which must be a 200 with data: a side answering 401 fast would look good."""
    status, text = server.request(method, path, body.replace("{vmid}", "999999") if body else None, headers)
    if status != 200 or "data" not in json.loads(text):
        raise RuntimeError(f"{server.name} {method} {path}: HTTP {status}")
    return text.decode()


@dataclass
class Runs:
    """req/s per round of each (label, side), and the errors wrk saw."""

    rps: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    p50: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    errors: int = 0

    def add(self, label: str, side: str, server: Server, result: dict[str, Any]) -> None:
        self.rps.setdefault((label, side), []).append(result["rps"])
        self.p50.setdefault((label, side), []).append(result["p50_ms"])
        self.errors += result["errors"]
        server.requests += result["requests"]

    def ratios(self, label: str, side: str, base_label: str, base_side: str) -> list[float]:
        return [a / b for a, b in zip(self.rps[(label, side)], self.rps[(base_label, base_side)], strict=True)]


def load(server: Server, path: str, headers: dict[str, str], duration: str = DURATION,
         write: tuple[str, str, str] | None = None, vmid: int = 0) -> dict[str, Any]:
    try:
        return _load(server, path, headers, duration, write, vmid)
    finally:
        # until the server has answered what wrk left in flight: a slow answer's queue would otherwise
        # eat into the next run's time
        server.request("GET", "/api2/json/version")


def _load(server: Server, path: str, headers: dict[str, str], duration: str,
          write: tuple[str, str, str] | None, vmid: int) -> dict[str, Any]:
    if write is None:
        return run_wrk(f"{server.base}{path}", headers, connections=CONNECTIONS, duration=duration)
    method, _path, body = write
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT)
    try:
        env = {**os.environ, "BENCH_METHOD": method, "BENCH_BODY": body, "BENCH_VMID": str(vmid)}
        return run_wrk(f"{server.base}{path}", headers, connections=CONNECTIONS, duration=duration,
                       script=script.name, env=env)
    finally:
        os.unlink(script.name)


QUIET = "gateway --no-access-log"


def log_ab(runs: Runs, directory: Path, duration: str, rotation: int) -> list[Server]:
    """One turn of the access log's A/B: three gateways started for it, that answer only GET /version,
    with the log, without it and with stdout buffered, loaded back to back (so that they share the
    same moment's noise) in an order that rotates. Started anew each turn: a process's own speed
    (its memory layout; two identical gateways differ by 1-2%) would otherwise tilt every pair the
    same way. Each is warmed up before it is measured. The servers, stopped, are returned."""
    path = READS["GET /version"]
    with contextlib.ExitStack() as stack:
        sides = [("logged", stack.enter_context(gateway("gateway, logged", directory / "g", tls=False, seed=None))),
                 ("no access log", stack.enter_context(gateway(QUIET, directory / "d", tls=False, seed=None,
                                                               flags=("--no-access-log",)))),
                 ("stdout buffered", stack.enter_context(gateway("gateway, stdout buffered", directory / "e",
                                                                 tls=False, seed=None, unbuffered=False)))]
        tickets = {side: credentials(server).ticket for side, server in sides}
        for side, server in sides:
            server.requests += load(server, path, tickets[side], "1s")["requests"]
        for k in range(len(sides)):
            side, server = sides[(k + rotation) % len(sides)]
            runs.add(LOG_AB, side, server, load(server, path, tickets[side], duration))
    return [server for _, server in sides]


def _span(values: list[float], fmt: str) -> str:
    if not values:
        return "n/a"
    middle = statistics.median(values)
    return f"{middle:{fmt}} [{min(values):{fmt}}-{max(values):{fmt}}]"


def measure(tmp: Path) -> tuple[list[str], dict[str, Any]]:
    seed = seed_file(tmp)
    lines: list[str] = []
    summary: dict[str, Any] = {}
    runs = Runs()
    load_before = os.getloadavg()[0]
    with contextlib.ExitStack() as stack:
        http_gw = stack.enter_context(gateway("gateway --http", tmp / "a", tls=False, seed=None))
        tls_gw = stack.enter_context(gateway("gateway TLS", tmp / "b", tls=True, seed=None))
        seeded_gw = stack.enter_context(gateway(f"gateway, {GUESTS:,} guests", tmp / "c", tls=False, seed=seed))
        # the writes on a cluster of their own: the VMs they create must not grow the listed one
        writes_gw = stack.enter_context(gateway("gateway, writes", tmp / "f", tls=False, seed=seed))
        ab_servers: list[Server] = []  # the access log's A/B gateways, once stopped (their lines counted)

        def reader(path: str) -> Server:  # the guest list from the seeded cluster, other reads the default one
            return seeded_gw if path == GUEST_LIST else http_gw

        creds = {server.name: credentials(server) for server in (http_gw, tls_gw, seeded_gw, writes_gw)}
        answers = {f"GET {path}": answer(reader(path), "GET", path, None, creds[reader(path).name].ticket)
                   for path in READS.values()}
        for method, path, body in WRITES.values():
            answers[f"{method} {path}"] = answer(writes_gw, method, path, body, creds[writes_gw.name].ticket)
        state, answers_file = tmp / "b" / "state", tmp / "answers.json"
        answers_file.write_text(json.dumps(answers))
        bare = stack.enter_context(reference("bare --http", answers_file, None))
        pair = (state / "pvegateway.pem", state / "pvegateway.key")  # the TLS gateway's certificate
        bare_tls = stack.enter_context(reference("bare TLS", answers_file, pair))
        tls_paths = {label: READS[label] for label in TOKEN_READS}
        fake, fake_ticket, fake_note = fakepve(stack, tmp)

        created = [0]  # VMs the writes created (answered; a few more were in flight when wrk stopped)

        def one_round(duration: str, n: int) -> None:
            for label, path in READS.items():
                server, its = reader(path), creds[reader(path).name]
                runs.add(label, "gateway ticket", server, load(server, path, its.ticket, duration))
                runs.add(label, "bare", bare, load(bare, path, {}, duration))
                if label in TOKEN_READS:  # the other check of the credentials: shallow and deep
                    runs.add(label, "gateway token", server, load(server, path, its.token, duration))
            for label, path in tls_paths.items():
                runs.add(label, "TLS gateway ticket", tls_gw, load(tls_gw, path, creds[tls_gw.name].ticket, duration))
                runs.add(label, "TLS bare", bare_tls, load(bare_tls, path, {}, duration))
            if fake is not None:  # the issue's "ahead of fakepve": both over TLS, by ticket
                for label in FAKEPVE_READS:
                    path = READS[label]
                    runs.add(label, VS_FAKEPVE, tls_gw, load(tls_gw, path, creds[tls_gw.name].ticket, duration))
                    runs.add(label, FAKEPVE_SIDE, fake, load(fake, path, fake_ticket, duration))
            for turn in range(LOG_AB_TIMES if n else 0):  # its own warm-up: not in the warm-up round
                ab_servers.extend(log_ab(runs, tmp / f"ab{n}-{turn}", duration, turn + n))
            for label, write in WRITES.items():
                result = load(writes_gw, write[1], creds[writes_gw.name].ticket, duration, write,
                              vmid=2_000_000 + n * 200_000)
                runs.add(label, "gateway ticket", writes_gw, result)
                created[0] += result["requests"] if write is CREATE else 0
                runs.add(label, "bare", bare, load(bare, write[1], {}, duration, write))

        one_round("1s", 0)  # warm-up: validators built, caches filled, all sides touched
        runs = Runs()
        for n in range(1, ROUNDS + 1):
            one_round(DURATION, n)
        rss = {server.name: rss_mb(server.proc.pid) for server in (http_gw, tls_gw, seeded_gw, writes_gw, bare)}
        gateways = (http_gw, tls_gw, seeded_gw, writes_gw, *(s for s in ab_servers if s.name != QUIET))
    # after SIGTERM: every request answered has its line (the log is buffered, never lost at exit)
    lost = {server.name: server.requests - server.lines for server in gateways if server.lines < server.requests}

    lines.append(f"served: pvegateway serve --mode mock (the default cluster; the guest list, and the writes, each on "
                 f"one seeded with {GUESTS:,} QEMU guests), default access log on stdout (a pipe; PYTHONUNBUFFERED=1), "
                 f"vs bare Starlette under the same uvicorn; "
                 f"wrk -t1 -c{CONNECTIONS} -d{DURATION}, {ROUNDS} rounds alternating, median [range]; "
                 f"{os.cpu_count()} CPUs, load average {load_before:.1f} before")
    lines.append(f"  {'request':<36} {'side':<20} {'req/s':>22}  {'ratio to bare':>20}")
    worst_read = float("inf")
    for label in READS:
        for side, base in (("gateway ticket", "bare"), ("gateway token", "bare"),
                           ("TLS gateway ticket", "TLS bare")):
            if (label, side) not in runs.rps:
                continue
            ratios = runs.ratios(label, side, label, base)
            worst_read = min(worst_read, statistics.median(ratios))
            lines.append(f"  {label:<36} {side:<20} {_span(runs.rps[(label, side)], '6.0f'):>22}  "
                         f"{_span(ratios, '.2f'):>20}   (bare {statistics.median(runs.rps[(label, base)]):.0f}, "
                         f"p50 {statistics.median(runs.p50[(label, side)]):.2f} ms)")
            summary[f"{label} | {side}"] = {"rps": runs.rps[(label, side)], "ratio": ratios}
    ahead: list[float] = []
    for label in FAKEPVE_READS:
        if (label, FAKEPVE_SIDE) not in runs.rps:
            continue
        ratios = runs.ratios(label, VS_FAKEPVE, label, FAKEPVE_SIDE)
        ahead.append(statistics.median(ratios))
        lines.append(f"  {label:<36} {'TLS gateway ticket':<20} {_span(runs.rps[(label, VS_FAKEPVE)], '6.0f'):>22}  "
                     f"{_span(ratios, '.2f'):>20}   x {fake_note} "
                     f"({_span(runs.rps[(label, FAKEPVE_SIDE)], '.0f')} req/s, TLS, ticket)")
        summary[f"{label} | vs fakepve"] = {"rps": runs.rps[(label, VS_FAKEPVE)],
                                           "fakepve": runs.rps[(label, FAKEPVE_SIDE)], "ratio": ratios}
    if not ahead:
        lines.append(f"  fakepve: not run ({fake_note})")
    for label in WRITES:
        ratios = runs.ratios(label, "gateway ticket", label, "bare")
        rps = runs.rps[(label, "gateway ticket")]
        lines.append(f"  {label:<36} {'gateway ticket':<20} {_span(rps, '6.0f'):>22}  {_span(ratios, '.2f'):>20}"
                     f"   (bare {statistics.median(runs.rps[(label, 'bare')]):.0f})")
        summary[f"{label} | gateway ticket"] = {"rps": rps, "ratio": ratios}
    create = statistics.median(runs.rps[(next(iter(WRITES)), "gateway ticket")])
    log_costs = {shown: [1 - r for r in runs.ratios(LOG_AB, side, LOG_AB, "no access log")]
                 for shown, side in (("unbuffered", "logged"), ("buffered", "stdout buffered"))}
    quiet = statistics.median(runs.rps[(LOG_AB, "no access log")])
    for side, costs in log_costs.items():
        lines.append(f"  access log cost, GET /version, stdout {side:<16} {_span([c * 100 for c in costs], '4.1f')} % "
                     f"of the throughput without it ({quiet:.0f} req/s; {len(costs)} pairs, order rotating)")
        summary[f"access log cost ({side})"] = costs
    lines.append(f"  access log: {sum(s.lines for s in gateways):,} lines for {sum(s.requests for s in gateways):,} "
                 f"answered requests; {'none lost at shutdown' if not lost else f'LOST {lost}'}")
    starts, start_rss = startup(tmp)
    lines.append(f"  startup, command line to the first answer (the gateway's: a login): gateway --http "
                 f"{_span(starts['gateway'], '.3f')} s (CPU {_span(starts['gateway CPU'], '.2f')} s), TLS "
                 f"{_span(starts['gateway TLS'], '.3f')} s; bare {_span(starts['bare'], '.3f')} s "
                 f"(CPU {_span(starts['bare CPU'], '.2f')} s)")
    lines.append(f"  RSS: after startup {start_rss:.1f} MB; after the run {rss[http_gw.name]:.1f} MB, "
                 f"TLS {rss[tls_gw.name]:.1f} MB; {GUESTS:,} guests {rss[seeded_gw.name]:.1f} MB, and the "
                 f"{created[0]:,} the writes created {rss[writes_gw.name]:.1f} MB; "
                 f"bare {rss[bare.name]:.1f} MB")
    worst_log = max(statistics.median(c) for c in log_costs.values())
    # the product's memory; the writes' server holds what they created (bench/mock.py: ~1.4 KiB a VM)
    most_rss = max(start_rss, *(rss[s.name] for s in (http_gw, tls_gw)))
    verdicts = [
        (f"reads >= {READ_RATIO}x bare", worst_read >= READ_RATIO, f"worst median {worst_read:.2f}"),
        (f"create VM >= {CREATE_TIMES:.0f}x fakepve ({FAKEPVE_CREATE_RPS:.0f} req/s)",
         create >= CREATE_TIMES * FAKEPVE_CREATE_RPS, f"{create / FAKEPVE_CREATE_RPS:.1f}x"),
        (f"startup <= {STARTUP_S} s", statistics.median(starts["gateway"]) <= STARTUP_S,
         f"{statistics.median(starts['gateway']):.3f} s"),
        (f"access log <= {LOG_COST:.0%}", worst_log <= LOG_COST, f"{worst_log:.1%}"),
        (f"RSS <= {RSS_MB:.0f} MB", most_rss <= RSS_MB, f"{most_rss:.1f} MB"),
        ("no errors, no lost log lines", not runs.errors and not lost, f"{runs.errors} wrk errors"),
    ]
    if ahead:
        verdicts.insert(1, ("/nodes, /cluster/resources ahead of fakepve", min(ahead) > 1.0,
                            f"worst median {min(ahead):.2f}x"))
    lines.append("  targets: " + ";  ".join(f"{name}: {'met' if ok else 'NOT met'} ({shown})"
                                           for name, ok, shown in verdicts))
    summary.update(startup=starts, rss_mb=rss, startup_rss_mb=start_rss, errors=runs.errors, lost_lines=lost)
    return lines, summary


def startup(tmp: Path) -> tuple[dict[str, list[float]], float]:
    """Seconds from the command line to the first answered request, ``ROUNDS`` times each, the default
    cluster (and the CPU seconds taken: a loaded machine stretches the wall time, far less the CPU
    time); and the gateway's RSS then."""
    times: dict[str, list[float]] = {}
    rss: list[float] = []
    for n in range(ROUNDS):
        with gateway("gateway", tmp / f"s{n}", tls=False, seed=None) as server:
            rss.append(rss_mb(server.proc.pid))
        starts = [server]
        with gateway("gateway TLS", tmp / "b", tls=True, seed=None) as server:  # its certificate made already
            starts.append(server)
        with reference("bare", tmp / "answers.json", None) as server:
            starts.append(server)
        for one in starts:
            times.setdefault(one.name, []).append(one.startup_s)
            times.setdefault(f"{one.name} CPU", []).append(one.startup_cpu_s)
    return times, statistics.median(rss)


def run() -> list[str]:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    with tempfile.TemporaryDirectory(prefix="pvegateway-bench-") as tmp:
        lines, summary = measure(Path(tmp))
    record("served", summary)
    return lines


if __name__ == "__main__":
    sys.exit(main_printing(run))
