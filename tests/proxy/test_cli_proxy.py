"""``pvegateway serve --mode proxy`` as a user starts it: in front of a 9.1.11 node, with the schema
taken from the node itself, then answering through it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

from pvegateway.testing import running_mock


def test_serve_proxy_takes_the_nodes_schema_and_answers(tmp_path: Path) -> None:
    with running_mock(tls=True, state_dir=tmp_path / "node", apidoc="9.1.11") as node:
        assert node.fingerprint is not None
        command = [sys.executable, "-m", "pvegateway.cli", "serve", "--mode", "proxy", "--apidoc", "upstream",
                   "--upstream", node.url, "--fingerprint", node.fingerprint, "--http", "--port", "0",
                   "--state-dir", str(tmp_path / "gateway")]
        with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONUNBUFFERED": "1"}) as proc:
            try:
                assert proc.stdout is not None
                line = proc.stdout.readline()
                assert "(650 operations), proxy mode to " + node.url in line, line
                found = re.search(r"listening on (http://\S+/api2/json)", line)
                assert found
                request = urllib.request.Request(found.group(1) + "/access/domains")
                with urllib.request.urlopen(request, timeout=10) as answer:
                    assert answer.status == 200
                    assert b'"realm":"pam"' in answer.read()
            finally:
                proc.terminate()
                proc.communicate(timeout=10)
        saved = list((tmp_path / "gateway").glob("apidoc-upstream-127.0.0.1-*.json"))
        assert len(saved) == 1
