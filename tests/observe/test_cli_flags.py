"""The ``serve`` flags: ``--metrics`` turns /metrics on (off by default), its token comes from a file or
the environment (never argv), ``--no-access-log`` silences the access log."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from pvegateway.observe import log_to
from pvegateway.observe.cli import TOKEN_VARIABLE, add_arguments, from_args
from pvegateway.observe.metrics import Metrics
from pvegateway.testing import mock_gateway
from tests.compose import composed
from tests.live import live_server

from .conftest import Sink, fetch


def parsed(*argv: str) -> argparse.Namespace:
    serve = argparse.ArgumentParser()
    add_arguments(serve)
    return serve.parse_args(argv)


def test_defaults_log_every_request_and_keep_metrics_off(access_sink: Sink) -> None:
    gateway = composed(mock_gateway(), observability=from_args("mock", parsed()))
    log_to(access_sink)  # from_args pointed the access log at stdout: the sink takes its place
    with live_server(gateway) as base:
        assert fetch(f"{base}/metrics").status == 404
        assert fetch(f"{base}/api2/json/version").status == 401
        assert '"path":null,"status":401' in access_sink.lines(1)[0]


def test_metrics_token_from_a_file_or_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    token_file = tmp_path / "metrics-token"
    token_file.write_text("from-file-0a7c3e9d5b1f4\n")
    monkeypatch.setenv(TOKEN_VARIABLE, "from-env-6e2b8d4a0c9f1")
    from_file = composed(mock_gateway(), observability=from_args(
        "mock", parsed("--metrics", "--no-access-log", "--metrics-token-file", str(token_file))))
    from_env = composed(mock_gateway(), observability=from_args("mock", parsed("--metrics", "--no-access-log")))
    with live_server(from_file) as file_base, live_server(from_env) as env_base:
        assert fetch(f"{file_base}/metrics").status == 401
        assert fetch(f"{file_base}/metrics", headers={"Authorization": "Bearer from-file-0a7c3e9d5b1f4"}).status == 200
        assert fetch(f"{env_base}/metrics", headers={"Authorization": "Bearer from-env-6e2b8d4a0c9f1"}).status == 200
    assert isinstance(from_file.api.observer, Metrics)  # counting only: no access log work per request
