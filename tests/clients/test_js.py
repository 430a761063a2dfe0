"""The proxmox-api npm client (TypeScript, undici: the JS/TS clients' way) against the served mock.

It is strict about the wire: it reads a body as JSON only when Content-Type is exactly PVE's
``application/json;charset=UTF-8``, and tells a stale ticket by PVE's reason phrase. The scenario
(tests/js/scenario.mjs) logs in, reads, creates a VM and waits for its task, changes and snapshots it,
and reads an error back.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from pvegateway import statedir
from pvegateway.testing import DEFAULT_PASSWORD, mock_gateway
from tests.live import live_server

JS = Path(__file__).resolve().parents[1] / "js"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    return statedir.certificate(tmp_path_factory.mktemp("tls"))


def test_the_js_client_runs_its_scenario(certificate: tuple[Path, Path, str]) -> None:
    node = shutil.which("node")
    assert node is not None and (JS / "node_modules" / "proxmox-api").is_dir(), "make install sets up tests/js"
    cert, key, _ = certificate
    gateway = mock_gateway(secret=b"js-client")
    with live_server(gateway, certfile=str(cert), keyfile=str(key)) as url:
        done = subprocess.run(  # nosec B603 # node with our own script, fixed arguments
            [node, "scenario.mjs", "127.0.0.1", url.rsplit(":", 1)[1], DEFAULT_PASSWORD], cwd=JS,
            capture_output=True, text=True, timeout=120, check=False,
            env={**os.environ, "NODE_EXTRA_CA_CERTS": str(cert)})
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["release"] == "9.2" and result["nodes"] == ["pve1", "pve2", "pve3"]
    assert (result["createStatus"], result["snapshot"]) == ("OK", "OK")
    assert (result["name"], result["memory"]) == ("js01", "2048")
    assert result["disk"] == f"local-lvm:vm-{result['vmid']}-disk-0,size=4G"
    # pve-guest-common src/PVE/AbstractConfig.pm load_config: the missing guest's config file, as a 500
    assert "return Error 500" in result["missing"] and "does not exist" in result["missing"], result["missing"]
