"""/version (pve-manager PVE/API2.pm) and a node's certificate info (PVE/API2/Certificates.pm,
pve-common src/PVE/Certificate.pm get_certificate_info)."""

from __future__ import annotations

import base64
import hashlib
import re

from tests.mock.conftest import PVE


async def test_version_is_92_and_console_only_when_set(pve: PVE) -> None:
    answer = await pve.data("GET", "/version")
    # PVE/API2.pm:120-136 with pvecfg's version_info: release is the version's major.minor (Makefile:4)
    assert set(answer) == {"version", "release", "repoid"}
    assert answer["release"] == "9.2" and answer["version"].startswith("9.2.")
    assert re.fullmatch(r"[0-9a-f]{16}", answer["repoid"])
    assert answer == {**await pve.data("GET", "/nodes/pve1/version")}
    await pve.data("PUT", "/cluster/options", {"console": "xtermjs"})
    assert (await pve.data("GET", "/version"))["console"] == "xtermjs"


def _der(pem: str) -> bytes:
    body = "".join(line for line in pem.strip().splitlines() if not line.startswith("-----"))
    return base64.b64decode(body)


async def test_certificate_info_is_the_root_ca_and_the_nodes_certificate(pve: PVE) -> None:
    info = await pve.data("GET", "/nodes/pve2/certificates/info")
    assert [c["filename"] for c in info] == ["pve-root-ca.pem", "pve-ssl.pem"]
    ca, node = info
    # pve-cluster src/PVE/Cluster/Setup.pm:449, 522: the subjects PVE gives them, node's issued by the CA
    assert ca["subject"].startswith("/CN=Proxmox Virtual Environment/OU=") and ca["issuer"] == ca["subject"]
    assert node["subject"] == "/OU=PVE Cluster Node/O=Proxmox Virtual Environment/CN=pve2"
    assert node["issuer"] == ca["subject"]
    address = next(n["ip"] for n in await pve.data("GET", "/cluster/status") if n.get("name") == "pve2")
    # Setup.pm:497 the alternative names; Certificate.pm:281-283 IPv6 as eight groups
    assert node["san"] == ["127.0.0.1", "0000:0000:0000:0000:0000:0000:0000:0001", "localhost", address, "pve2"]
    assert node["notbefore"] < node["notafter"] <= ca["notafter"]
    for cert in info:  # the fingerprint is the PEM's own SHA-256, as OpenSSL prints it
        digest = hashlib.sha256(_der(cert["pem"])).hexdigest().upper()
        assert cert["fingerprint"] == ":".join(digest[i:i + 2] for i in range(0, 64, 2))
    nodes = {n["node"]: n for n in await pve.data("GET", "/nodes")}
    assert nodes["pve2"]["ssl_fingerprint"] == node["fingerprint"]
