"""The command line: routes, serve (prints where it listens), apidoc list."""

from __future__ import annotations

import contextlib
import json
import re
import socket
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pvegateway.cli import main, parser


def test_routes_lists_every_operation(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["routes"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 676
    assert any(line.split()[:2] == ["POST", "/nodes/{node}/qemu"] and line.endswith("create_vm") for line in lines)


def test_routes_of_another_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["routes", "--apidoc", "9.1.11"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 650


def test_unknown_schema_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["routes", "--apidoc", "6.4"]) == 1
    assert "unknown schema '6.4'" in capsys.readouterr().err


def test_apidoc_list_shows_installed_versions(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["apidoc", "list"]) == 0
    out = capsys.readouterr().out
    assert "9.2" in out and "9.1.11" in out and "installed" in out


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_serve_prints_where_it_listens_and_answers(tmp_path: Path) -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "pvegateway", "serve", "--http", "--port", str(port), "--apidoc", "9.1.11",
         "--state-dir", str(tmp_path)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert f"listening on http://127.0.0.1:{port}/api2/json" in line
        assert "PVE 9.1.11 API (650 operations)" in line
        # the socket is bound before the line is printed, so it connects at once
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api2/json/version", timeout=10)
        assert refused.value.code == 401 and refused.value.reason == "No ticket"
        refused.value.close()
        login = urllib.request.Request(
            f"http://127.0.0.1:{port}/api2/json/access/ticket", data=b"username=root@pam&password=pvegateway"
        )
        with urllib.request.urlopen(login, timeout=10) as resp:
            ticket = json.loads(resp.read())["data"]["ticket"]
        version = urllib.request.Request(
            f"http://127.0.0.1:{port}/api2/json/version", headers={"Cookie": f"PVEAuthCookie={ticket}"}
        )
        with urllib.request.urlopen(version, timeout=10) as resp:
            assert json.loads(resp.read())["data"]["release"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def test_mock_refuses_several_workers(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--workers", "2"]) == 2
    assert "several workers would each get their own cluster" in capsys.readouterr().err


def test_several_workers_with_in_memory_rate_limits_are_warned_about(tmp_path: Path) -> None:
    """--workers 2 with the default memory:// storage let read=5/minute allow 10 requests, silently."""
    command = [sys.executable, "-m", "pvegateway", "serve", "--mode", "proxy", "--http", "--port", "0",
               "--upstream", "http://127.0.0.1:9", "--state-dir", str(tmp_path), "--workers", "2",
               "--rate-limit", "read=5/minute", "--no-access-log"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stdout is not None
            assert "listening on" in proc.stdout.readline()
        finally:
            proc.terminate()
            _out, err = proc.communicate(timeout=30)
    assert ("pvegateway: warning: --workers 2 with in-memory rate limits: each worker counts its own budgets, "
            "so a client may get up to 2 times each limit; --rate-limit-storage redis://HOST:PORT shares them "
            "(wrong-key counts stay per worker)") in err


@pytest.mark.parametrize("flags", [
    ["--workers", "1", "--rate-limit", "read=5/minute"],
    ["--workers", "2", "--rate-limit", "read=5/minute", "--rate-limit-storage", "redis://127.0.0.1:6379"],
    ["--workers", "2"],
])
def test_no_workers_warning_when_nothing_is_multiplied(flags: list[str]) -> None:
    from pvegateway.ratelimit.cli import workers_warning

    assert workers_warning(parser().parse_args(["serve", "--mode", "proxy", *flags])) is None


def test_openapi_prints_the_document(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["openapi", "--apidoc", "9.1.11"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["openapi"].startswith("3.1")
    operations = sum(1 for item in document["paths"].values() for method in item if method in
                     ("get", "post", "put", "delete"))
    assert operations == 650


def test_serve_enables_the_control_api_with_a_key(tmp_path: Path) -> None:
    port = _free_port()
    env = {**__import__("os").environ, "PVEGATEWAY_CONTROL_KEY": "k3y-6f0e2d9a4b7c1e85c3"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "pvegateway", "serve", "--http", "--port", str(port), "--state-dir", str(tmp_path)],
        stdout=subprocess.PIPE, text=True, env=env,
    )
    try:
        assert proc.stdout is not None
        assert "listening on" in proc.stdout.readline()
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/_gateway/state", headers={"Authorization": "Bearer k3y-6f0e2d9a4b7c1e85c3"}
        )
        with urllib.request.urlopen(request, timeout=10) as resp:
            state = json.loads(resp.read())
        assert {g["vmid"] for g in state["guests"]} >= {100, 101, 200}
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def test_proxy_mode_needs_an_upstream(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["serve", "--mode", "proxy", "--state-dir", str(tmp_path)]) == 2
    assert "proxy mode needs at least one --upstream https://HOST:8006" in capsys.readouterr().err


def test_proxy_refuses_a_service_account_without_gateway_keys(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PVEGATEWAY_SERVICE_TOKEN", "root@pam!gw=0d9c7e54-secret")
    monkeypatch.delenv("PVEGATEWAY_API_KEYS", raising=False)
    args = ["serve", "--mode", "proxy", "--upstream", "https://pve1:8006", "--state-dir", str(tmp_path)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "needs gateway API keys" in err and "0d9c7e54-secret" not in err


def test_proxy_reads_secrets_from_files(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = tmp_path / "absent"
    args = ["serve", "--mode", "proxy", "--upstream", "https://pve1:8006", "--state-dir", str(tmp_path),
            "--api-keys", str(missing)]
    with pytest.raises(SystemExit, match=r"cannot read gateway API keys from .*absent"):
        main(args)
    (tmp_path / "keys").write_text("# one per line\nkey-one\n")
    args[-1] = str(tmp_path / "keys")
    assert main([*args, "--service-user", "gw@pve"]) == 2  # a user without its password
    assert "service user 'gw@pve' has no password" in capsys.readouterr().err


def test_output_cut_short_by_its_reader_is_not_a_traceback() -> None:
    # the OpenAPI document is megabytes: far more than a pipe holds, so the write must hit the closed end
    with subprocess.Popen([sys.executable, "-m", "pvegateway", "openapi"], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        assert proc.stdout.readline() == "{\n"
        proc.stdout.close()  # like `| head -1`
        err = proc.stderr.read()
        assert proc.wait(timeout=30) == 1
    assert "Traceback" not in err


def test_the_mocks_secrets_can_come_from_files(tmp_path: Path) -> None:
    """--root-password-file and --control-key-file: nothing secret on the command line."""
    (tmp_path / "password").write_text("from-a-file-9c1\n")
    (tmp_path / "control").write_text("ctl-key-77a0c4e9b2d61f8a5\n")
    command = [sys.executable, "-m", "pvegateway", "serve", "--http", "--port", "0", "--state-dir", str(tmp_path),
               "--root-password-file", str(tmp_path / "password"), "--control-key-file", str(tmp_path / "control")]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stdout is not None
            found = re.search(r"listening on (http://\S+)/api2/json", proc.stdout.readline())
            assert found
            base = found.group(1)
            form = urllib.parse.urlencode({"username": "root@pam", "password": "from-a-file-9c1"}).encode()
            with urllib.request.urlopen(base + "/api2/json/access/ticket", form, timeout=10) as login:
                assert json.loads(login.read())["data"]["username"] == "root@pam"
            request = urllib.request.Request(base + "/_gateway/state",
                                             headers={"Authorization": "Bearer ctl-key-77a0c4e9b2d61f8a5"})
            with urllib.request.urlopen(request, timeout=10) as state:
                assert state.status == 200
        finally:
            proc.terminate()
            proc.communicate(timeout=10)


@contextlib.contextmanager
def _serving(command: list[str]) -> Iterator[str]:
    """The server of ``command`` (which binds port 0) while the block runs: yields its base URL; then
    SIGTERM, the ordinary way to stop it, and its clean exit."""
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stdout is not None
            found = re.search(r"listening on (http://\S+)/api2/json", proc.stdout.readline())
            assert found
            yield found.group(1)
        finally:
            proc.terminate()
            proc.communicate(timeout=30)
        assert proc.returncode == 0


def _json(request: urllib.request.Request) -> Any:
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def test_state_file_keeps_the_whole_cluster_across_a_restart(tmp_path: Path) -> None:
    """``serve --mode mock --state FILE``: the cluster is saved on shutdown and loaded on start, whole
    (disks, snapshots, tokens, the deterministic clock...), and a reset after the restart goes back to
    what was loaded (it used to come back without a single volume)."""
    key = "state-ctl-key-0b8e4f2a9d6c"
    (tmp_path / "control").write_text(key + "\n")
    seed = Path(__file__).parent / "data" / "cluster_seed.json"
    state = tmp_path / "cluster.json"
    command = [sys.executable, "-m", "pvegateway", "serve", "--mode", "mock", "--http", "--port", "0",
               "--state-dir", str(tmp_path), "--seed", str(seed), "--state", str(state),
               "--control-key-file", str(tmp_path / "control")]
    control = {"Authorization": f"Bearer {key}"}

    def dump(base: str) -> Any:
        return _json(urllib.request.Request(base + "/_gateway/state", headers=control))

    with _serving(command) as base:
        form = urllib.parse.urlencode({"username": "root@pam", "password": "lab-root-pw-71c2"}).encode()
        login = _json(urllib.request.Request(base + "/api2/json/access/ticket", form))["data"]
        auth = {"Cookie": f"PVEAuthCookie={login['ticket']}", "CSRFPreventionToken": login["CSRFPreventionToken"]}
        for method, path, data in [
            ("POST", "/nodes/pve-b/qemu", {"vmid": "310", "scsi0": "local-zfs:4"}),
            ("POST", "/nodes/pve-a/qemu/300/snapshot", {"snapname": "kept"}),
            ("DELETE", "/nodes/pve-a/storage/local/content/local:iso/alpine-3.21.iso", {}),
            ("POST", "/access/users/alice@pve/token/deploy", {}),
            ("POST", "/pools", {"poolid": "dev"}),
        ]:
            body = urllib.parse.urlencode(data).encode() if method == "POST" else None
            _json(urllib.request.Request(base + "/api2/json" + path, body, auth, method=method))
        before = dump(base)
    assert json.loads(state.read_text()) == before
    assert {g["vmid"] for g in before["guests"]} == {300, 301, 310, 400}
    with _serving(command) as base:
        assert dump(base) == before
        reset = urllib.request.Request(base + "/_gateway/reset", b"", control, method="POST")
        assert _json(reset)["ok"] is True
        assert dump(base) == before
