"""The examples run, so they cannot rot: the pytest example in a subprocess, the script against a live mock."""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path

from tests.live import live_server

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_pytest_example_passes() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(EXAMPLES / "pytest_with_mock")],
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
        assert status == {"service": "my-automation", "pve_api": "9.1.11", "operations": 649}
        form = urllib.parse.urlencode({"username": "root@pam", "password": "pvegateway"}).encode()
        login = json.loads(urllib.request.urlopen(base + "/pve/api2/json/access/ticket", form, timeout=10).read())
        ticket = urllib.parse.quote(login["data"]["ticket"], safe="")
        request = urllib.request.Request(base + "/pve/api2/json/nodes", headers={"Cookie": f"PVEAuthCookie={ticket}"})
        nodes = json.loads(urllib.request.urlopen(request, timeout=10).read())
        assert sorted(n["node"] for n in nodes["data"]) == ["pve1", "pve2", "pve3"]
