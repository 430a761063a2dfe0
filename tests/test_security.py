"""What SECURITY.md promises about secrets, proven: private files at rest, bearer keys that match only
exactly, and which secrets may come from argv."""

from __future__ import annotations

import argparse
import os
import stat
import urllib.error
import urllib.request
from pathlib import Path

import httpx
import pytest
from starlette.requests import Request

from pvegateway import codegen, statedir
from pvegateway.backends.mock.backend import MockOptions
from pvegateway.backends.proxy.credentials import GatewayKeys
from pvegateway.cli import main, parser
from pvegateway.codegen.guard import AdminKeys
from pvegateway.errors import PVEError
from pvegateway.observe import Observability
from pvegateway.secrets import key_bits, require_strong_keys
from tests.compose import composed, observed
from tests.live import live_server
from tests.mock.conftest import mock_app

KEY = "s3cret-key-9b1f4e7c2a6d"
# what someone probing a bearer key tries: a prefix, an extension, another case, nothing, a long non-ASCII one
NEAR_MISSES = [KEY[:-1], KEY + "x", KEY.upper(), "", "s3cret-k\u00e9y" * 10]


def _status(url: str, key: str) -> int:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # a plain HTTP server on 127.0.0.1
            return int(response.status)
    except urllib.error.HTTPError as err:
        return err.code


def test_state_dir_secrets_are_private_from_the_start_and_kept(tmp_path: Path) -> None:
    previous = os.umask(0)  # even a process that would make world-writable files gets 0600 secrets
    try:
        secret = statedir.secret(tmp_path)
        _cert, key, fingerprint = statedir.certificate(tmp_path)
    finally:
        os.umask(previous)
    for path in (tmp_path / "authkey", key):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert len(secret) == 32
    assert statedir.secret(tmp_path) == secret  # tickets survive a restart
    assert statedir.certificate(tmp_path)[2] == fingerprint  # pins survive a restart


def test_control_key_and_metrics_token_match_only_exactly() -> None:
    gateway = mock_app(MockOptions(secret=b"test-secret", control_key=KEY))
    gateway = observed(gateway, access_log=False, metrics_token=KEY)
    with live_server(gateway) as base:
        assert _status(f"{base}/_gateway/state", KEY) == 200
        assert _status(f"{base}/metrics", KEY) == 200
        for wrong in NEAR_MISSES:
            assert _status(f"{base}/_gateway/state", wrong) == 403, wrong
            assert _status(f"{base}/metrics", wrong) == 401, wrong


@pytest.mark.parametrize(("path", "wrong_status", "admitted_status"), [
    ("/_gateway/state", 403, 200),
    ("/metrics", 401, 200),
    ("/codegen/generate", 401, 400),  # admitted, then told that source=upstream needs proxy mode
])
def test_wrong_keys_are_throttled_per_client_address(path: str, wrong_status: int, admitted_status: int) -> None:
    """Before, a wrong key cost nothing: 1,000 guesses were answered at full speed. Now the 11th wrong
    key within a minute from one address is a 429 in PVE's envelope with Retry-After, and so is the
    right key from that address (else the refusal would tell a right guess); other addresses, and
    the same address without a key, are not held back."""
    mock = mock_app(MockOptions(secret=b"test-secret", control_key=KEY))
    gateway = composed(mock, observability=Observability("mock", access_log=False, metrics_token=KEY),
                       extensions=[codegen.Codegen(codegen.CodegenOptions(admin_keys=[KEY]))])
    method = "POST" if path == "/codegen/generate" else "GET"
    with live_server(gateway) as base, httpx.Client(timeout=10) as client:
        def send(key: str | None, source: str = "127.0.0.1") -> httpx.Response:
            headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
            transport = httpx.HTTPTransport(local_address=source)
            with httpx.Client(transport=transport, timeout=10) as one:
                return one.request(method, base + path, headers=headers, data={"source": "upstream"})

        assert [send(f"{KEY}-{n}").status_code for n in range(10)] == [wrong_status] * 10
        gateway.swap(gateway.schema)  # the site's routes are built again: the count stays
        refused = send(f"{KEY}-10")
        right_but_refused = send(KEY)
        others = send(KEY, "127.0.0.2")
        keyless = send(None)
        assert client.get(base + "/healthz").status_code == 200
    for answer in (refused, right_but_refused):
        assert answer.status_code == 429
        assert answer.json() == {"data": None, "message": "too many failed authentication attempts - retry in "
                                                          f"{answer.headers['Retry-After']} s\n"}
        assert 0 < int(answer.headers["Retry-After"]) <= 60
    assert others.status_code == admitted_status  # the right key, from elsewhere
    assert keyless.status_code == 401  # no key: not an attempt, nothing throttled


def _bearer(key: str) -> Request:
    return Request({"type": "http", "headers": [(b"authorization", f"Bearer {key}".encode("latin-1"))]})


async def test_admin_and_gateway_keys_match_only_exactly() -> None:
    admin = AdminKeys(["another-key", KEY])
    await admin.check(_bearer(KEY))
    gateway = GatewayKeys(["another-key", KEY])
    assert gateway.valid(KEY)
    for wrong in NEAR_MISSES:
        with pytest.raises(PVEError) as refused:
            await admin.check(_bearer(wrong))
        assert refused.value.status == 401
        assert not gateway.valid(wrong), wrong


SHORT = "0123456789abcdef0123456789abcde"  # 31 hex digits: 124 bits


@pytest.mark.parametrize(("flags", "variable", "what"), [
    (["--mode", "proxy", "--upstream", "https://pve1:8006", "--service-user", "gw@pve"], "PVEGATEWAY_API_KEYS",
     "a gateway API key"),
    (["--codegen"], "PVEGATEWAY_ADMIN_KEY", "a codegen admin key"),
    (["--metrics"], "PVEGATEWAY_METRICS_TOKEN", "the metrics token"),
    ([], "PVEGATEWAY_CONTROL_KEY", "the control key"),
])
def test_a_key_under_128_bits_is_refused_at_startup(
    flags: list[str], variable: str, what: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Before, any key was taken, one character long too; a 128-bit key is 32 hex digits (or 22 base64
    characters), and the message says how to make one without showing the key."""
    monkeypatch.setenv("PVEGATEWAY_SERVICE_PASSWORD", "service-password")
    monkeypatch.setenv(variable, SHORT)
    assert main(["serve", "--http", "--port", "0", "--state-dir", str(tmp_path), *flags]) == 2
    err = capsys.readouterr().err
    assert f"pvegateway: {what} is too short: 31 characters hold at most 124 bits, and at least 128 are " \
           "needed (e.g. 32 hex digits: openssl rand -hex 16)" in err
    assert SHORT not in err


def test_key_strength_counts_the_bits_of_the_keys_alphabet() -> None:
    assert key_bits("0f" * 16) == 128  # openssl rand -hex 16
    assert key_bits("A" * 21 + "w") == 132  # secrets.token_urlsafe(16): 22 characters of base64url
    assert key_bits("k3y") == 18
    require_strong_keys([None, "0f" * 16, "x" * 22], "a key")  # no key, or strong ones: nothing to say
    with pytest.raises(ValueError, match=r"^a key 2 of 2 is too short: 21 characters hold at most 126 bits"):
        require_strong_keys(["0f" * 16, "x" * 21], "a key")


def test_only_the_mocks_secrets_may_come_from_argv() -> None:
    """Every local user can read a process's argv: every secret can be named by FILE (or come from the
    environment); only the mock's control key and root password are also flags, kept for scripts."""
    subparsers = next(a for a in parser()._actions if isinstance(a, argparse._SubParsersAction))
    serve = subparsers.choices["serve"]
    secret_words = ("key", "token", "password", "secret")
    paths = {"--tls-key"}  # a file's path, like the FILE options
    on_argv = {
        option
        for action in serve._actions for option in action.option_strings
        if any(word in option for word in secret_words) and action.metavar != "FILE" and option not in paths
    }
    assert on_argv == {"--control-key", "--root-password"}
    file_options = {o for action in serve._actions for o in action.option_strings if action.metavar == "FILE"}
    assert {"--control-key-file", "--root-password-file"} <= file_options
