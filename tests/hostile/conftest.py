"""One mock cluster per module, served over a real socket; every test must leave it as it found it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pvegateway.testing import PVEMock, running_mock

from .wire import Login, login


@pytest.fixture(scope="module")
def pve() -> Iterator[PVEMock]:
    with running_mock() as mock:
        yield mock


@pytest.fixture(scope="module")
def root(pve: PVEMock) -> Login:
    return login(pve.url, pve.user, pve.password)


@pytest.fixture
def unchanged(pve: PVEMock) -> Iterator[None]:
    """The cluster (guests, storage, users, tasks, counters...) is the same after the test."""
    before = pve.control.dump()
    yield
    assert pve.control.dump() == before, "a refused request changed the cluster"
