"""Shared fixtures: gateways are built once per schema version and reused."""

from __future__ import annotations

from functools import cache

import pytest

from pvegateway.app import Gateway, create_app


@cache
def gateway(version: str) -> Gateway:
    return create_app(version, "generic")


@pytest.fixture
def app92() -> Gateway:
    return gateway("9.2")
