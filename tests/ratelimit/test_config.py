"""Turning limits on: the rule spec, the ``serve`` flags, and their mistakes reported at startup."""

from __future__ import annotations

import argparse
from collections import Counter

import pytest

from pvegateway.apidoc.schema import load_schema
from pvegateway.ratelimit.api import ApiLimiter
from pvegateway.ratelimit.cli import add_arguments, limiter_from_args, mock_options_from_args
from pvegateway.ratelimit.login import parse_throttle
from pvegateway.ratelimit.rules import parse_rules


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(argv)


def test_spec_names_each_group_in_limits_notation() -> None:
    rules = parse_rules("write=20/second; read=100/second,2000/minute;5000/hour ;login=5/minute")
    assert rules.describe() == "write=20/second;read=100/second,2000/minute,5000/hour;login=5/minute"
    assert parse_rules(rules.describe()).describe() == rules.describe()


def test_routes_fall_into_groups() -> None:
    ops = {op.key: op for op in load_schema("9.2").operations}
    assert ops["GET /nodes/{node}/qemu"].rate_group == "read"
    assert ops["POST /access/ticket"].rate_group == "login"
    assert ops["POST /nodes/{node}/storage/{storage}/upload"].rate_group == "upload"
    assert [ops[f"{m} /pools"].rate_group for m in ("POST", "PUT", "DELETE")] == ["write"] * 3
    groups = Counter(op.rate_group for op in ops.values())
    assert (groups["login"], groups["upload"]) == (1, 1)  # PVE has one login and one upload route


@pytest.mark.parametrize(("spec", "message"), [
    ("writes=20/second", "unknown rate-limit group 'writes'"),
    ("write=20/fortnight", "write: cannot read '20/fortnight' as a limit"),
    ("20/second", "'20/second': expected GROUP=LIMIT"),
    (" ; ", "empty rate-limit spec"),
])
def test_a_bad_spec_says_what_is_wrong(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(")):
        parse_rules(spec)


def test_flags_build_a_limiter_only_when_rules_are_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PVEGATEWAY_RATE_LIMIT", raising=False)
    assert limiter_from_args(parse()) is None
    limiter = limiter_from_args(parse("--rate-limit", "read=100/second", "--rate-limit-storage", "redis://127.0.0.1:1"))
    assert isinstance(limiter, ApiLimiter)
    assert limiter.limits.storage_uri == "redis://127.0.0.1:1"
    assert limiter.rules.describe() == "read=100/second"


def test_rules_can_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PVEGATEWAY_RATE_LIMIT", "write=1/second")
    limiter = limiter_from_args(parse())
    assert limiter is not None and limiter.rules.describe() == "write=1/second"


def test_bad_flags_stop_startup_with_the_reason() -> None:
    with pytest.raises(SystemExit, match="--rate-limit: unknown rate-limit group 'reads'"):
        limiter_from_args(parse("--rate-limit", "reads=1/second"))
    with pytest.raises(SystemExit, match="--rate-limit: rate-limit storage 'nosuch://x'"):
        limiter_from_args(parse("--rate-limit", "read=1/second", "--rate-limit-storage", "nosuch://x"))
    with pytest.raises(SystemExit, match="--login-throttle: unknown login-throttle key 'users'"):
        mock_options_from_args(parse("--login-throttle", "users=5/minute"))


def test_login_throttle_flag_becomes_a_mock_option() -> None:
    assert mock_options_from_args(parse()) == {}
    assert mock_options_from_args(parse("--login-throttle", "5/minute")) == {"login_throttle": "5/minute"}
    both = parse_throttle("5/minute")
    assert set(both) == {"user", "client"}
    assert [str(item.amount) for item in parse_throttle("user=5/minute;client=20/minute")["client"]] == ["20"]
