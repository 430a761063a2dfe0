"""The examples run, so they cannot rot: the pytest example in a subprocess, the script against a live mock."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import socket
import ssl
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from pvegateway.testing import PVEMock, running_mock
from tests.live import live_server

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.mark.parametrize("example", ["pytest_with_mock", "pytest_fault_injection"])
def test_pytest_example_passes(example: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(EXAMPLES / example)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert " passed" in result.stdout


def test_proxmoxer_script_against_pvegateway_serve(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with subprocess.Popen(
        [sys.executable, "-m", "pvegateway", "serve", "--mode", "mock", "--port", str(port),
         "--state-dir", str(tmp_path)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
    ) as server:
        try:
            run_script(server, port, tmp_path)
        finally:
            server.terminate()
            server.wait(timeout=10)


def run_script(server: subprocess.Popen[str], port: int, state_dir: Path) -> None:
    assert server.stdout is not None
    lines = [server.stdout.readline(), server.stdout.readline()]  # listening (socket bound), certificate
    assert "listening on https://" in lines[0], lines
    assert "SHA-256 fingerprint" in lines[1], lines
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "proxmoxer_script.py"), "--port", str(port),
         "--verify", str(state_dir / "pvegateway.pem")],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "node pve1: online" in out
    assert "guest 100 (qemu) on pve1: web01 running" in out
    for step in ("create", "start", "snapshot", "stop", "delete"):
        assert any(line.startswith(f"{step} ") and line.endswith(": OK") for line in out.splitlines()), out
    assert any(line.startswith("status ") and line.endswith(": running") for line in out.splitlines()), out


def test_embedding_example_serves_the_api_under_its_prefix() -> None:
    spec = importlib.util.spec_from_file_location("embed_in_starlette", EXAMPLES / "embed_in_starlette.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with live_server(module.build_app("9.1.11")) as base:
        status = json.loads(urllib.request.urlopen(base + "/status", timeout=10).read())
        assert status == {"service": "my-automation", "pve_api": "9.1.11", "operations": 650}
        form = urllib.parse.urlencode({"username": "root@pam", "password": "pvegateway"}).encode()
        login = json.loads(urllib.request.urlopen(base + "/pve/api2/json/access/ticket", form, timeout=10).read())
        ticket = urllib.parse.quote(login["data"]["ticket"], safe="")
        request = urllib.request.Request(base + "/pve/api2/json/nodes", headers={"Cookie": f"PVEAuthCookie={ticket}"})
        nodes = json.loads(urllib.request.urlopen(request, timeout=10).read())
        assert sorted(n["node"] for n in nodes["data"]) == ["pve1", "pve2", "pve3"]


def test_proxy_deployment_example_fails_over_and_shares_limits(tmp_path: Path, redis_server: str) -> None:
    """serve.sh in front of two mock nodes of one cluster (one ticket secret), two workers, Redis limits."""
    secret = os.urandom(32)
    with running_mock(tls=True, state_dir=tmp_path / "n2", secret=secret) as node2, \
            contextlib.ExitStack() as first_node:
        node1 = first_node.enter_context(running_mock(tls=True, state_dir=tmp_path / "n1", secret=secret))
        env = {**os.environ, "PVE_NODE1": node1.url, "PVE_NODE2": node2.url,
               "PVE_FINGERPRINT1": str(node1.fingerprint), "PVE_FINGERPRINT2": str(node2.fingerprint),
               "REDIS_URL": redis_server, "RATE_LIMIT": "read=8/minute", "WORKERS": "2", "LISTEN_PORT": "0",
               "STATE_DIR": str(tmp_path / "gateway"), "PVEGATEWAY": str(Path(sys.executable).with_name("pvegateway")),
               "PYTHONUNBUFFERED": "1"}
        with subprocess.Popen([str(EXAMPLES / "proxy_deployment" / "serve.sh")], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) as gateway:
            try:
                deployment_answers(gateway, tmp_path / "gateway" / "pvegateway.pem", node1, first_node)
            finally:
                gateway.terminate()
                gateway.communicate(timeout=30)
            assert gateway.returncode == 0


def deployment_answers(gateway: subprocess.Popen[str], cert: Path, node1: PVEMock,
                       first_node: contextlib.ExitStack) -> None:
    assert gateway.stdout is not None
    first = gateway.stdout.readline()
    found = re.search(r"listening on (https://\S+)/api2/json", first)
    assert found, first
    base = found.group(1)
    lines = [gateway.stdout.readline(), gateway.stdout.readline()]
    assert "2 workers serving" in lines[1], lines
    context = ssl.create_default_context(cafile=str(cert))

    def call(path: str, data: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[int, Any, str]:
        request = urllib.request.Request(base + path, data, headers or {})
        try:
            with urllib.request.urlopen(request, timeout=20, context=context) as answer:
                return answer.status, json.loads(answer.read()), ""
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"null"), err.headers.get("Retry-After", "")

    form = urllib.parse.urlencode({"username": "root@pam", "password": node1.password}).encode()
    status, login, _ = call("/api2/json/access/ticket", form)
    assert status == 200
    auth = {"Cookie": "PVEAuthCookie=" + urllib.parse.quote(login["data"]["ticket"], safe="")}
    for _ in range(3):
        assert call("/api2/json/version", headers=auth)[0] == 200
    first_node.close()  # node 1 goes down: node 2 answers the same ticket
    assert call("/api2/json/nodes", headers=auth)[0] == 200
    assert call("/api2/json/nodes/pve1/qemu/abc/config", headers=auth)[0] == 400  # the gateway's own answer
    results = [call("/api2/json/version", headers=auth) for _ in range(6)]
    # 8 reads a minute in all, counted in Redis across both workers: 3 + 1 + 1 before, 3 now, then 429
    assert [r[0] for r in results] == [200, 200, 200, 429, 429, 429]
    assert results[3][1]["message"].startswith("rate limit exceeded")
    assert 1 <= int(results[3][2]) <= 60
