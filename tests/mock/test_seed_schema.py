"""The seed format's JSON Schema (``pvegateway seed schema``) covers every section a seed may have and
accepts every dump, so ``serve --seed`` takes back what the mock writes."""

from __future__ import annotations

import json
import subprocess
import sys

from pvegateway.backends.mock import snapshot
from pvegateway.backends.mock.seed import DEFAULT_SEED
from pvegateway.backends.mock.seed_schema import SEED_SCHEMA, check
from pvegateway.testing import mock_gateway


def test_the_schema_names_every_section_a_seed_may_have() -> None:
    assert set(SEED_SCHEMA["properties"]) == snapshot.SECTIONS


def test_the_default_seed_and_a_dump_pass() -> None:
    check(DEFAULT_SEED)
    gateway = mock_gateway(secret=b"schema")
    check(gateway.backend.dump())  # type: ignore[attr-defined]


def test_the_command_prints_the_schema() -> None:
    done = subprocess.run([sys.executable, "-m", "pvegateway.cli", "seed", "schema"],  # nosec B603
                          capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(done.stdout) == json.loads(json.dumps(SEED_SCHEMA))
