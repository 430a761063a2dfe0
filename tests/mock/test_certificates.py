"""The mock's certificates are built without ``cryptography`` (``handlers/_x509der``); ``cryptography``
is the oracle: its CertificateBuilder, given the same keys and fields (pve-cluster's, Setup.pm:425-565),
must make the very same bytes, and its Ed25519 must agree with ours."""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import subprocess
import sys
import uuid

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from pvegateway.backends.mock.handlers import _certificates as certs
from pvegateway.backends.mock.handlers import _x509der as der


def _key(label: str) -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.from_private_bytes(certs.key_seed(label))


def _ca_name() -> x509.Name:
    ou = str(uuid.uuid5(uuid.NAMESPACE_URL, "pvegateway-mock:ca"))
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Proxmox Virtual Environment"),
                      x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "PVE Cluster Manager CA")])


def built_ca() -> bytes:
    key = _key("ca")
    return (x509.CertificateBuilder().subject_name(_ca_name()).issuer_name(_ca_name())
            .public_key(key.public_key()).serial_number(1)
            .not_valid_before(certs.ISSUED).not_valid_after(certs.ISSUED + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .sign(key, None).public_bytes(serialization.Encoding.DER))


def built_node(name: str, ip: str) -> bytes:
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "PVE Cluster Node"),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Proxmox Virtual Environment"),
                         x509.NameAttribute(NameOID.COMMON_NAME, name)])
    names: list[x509.GeneralName] = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                     x509.IPAddress(ipaddress.ip_address("::1")), x509.DNSName("localhost")]
    try:
        names.append(x509.IPAddress(ipaddress.ip_address(ip)))
    except ValueError:
        names.append(x509.DNSName(ip))
    names.append(x509.DNSName(name))
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(_ca_name())
            .public_key(_key(f"node:{name}").public_key())
            .serial_number(int(hashlib.sha256(name.encode()).hexdigest()[:15], 16))
            .not_valid_before(certs.ISSUED).not_valid_after(certs.ISSUED + datetime.timedelta(days=730))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .sign(_key("ca"), None).public_bytes(serialization.Encoding.DER))


def test_the_root_ca_is_what_cryptography_builds() -> None:
    assert certs.root_ca() == built_ca()
    assert certs.root_ca_pem() == x509.load_der_x509_certificate(built_ca()).public_bytes(
        serialization.Encoding.PEM).decode()


@pytest.mark.parametrize(("name", "ip"), [("pve1", "192.168.1.11"), ("a-much-longer-node-name-0123456789", "10.0.0.1"),
                                          ("v6", "fd00::5"), ("byname", "pve-host.example.com")])
def test_node_certificates_are_what_cryptography_builds(name: str, ip: str) -> None:
    assert certs.node_certificate(name, ip) == built_node(name, ip)


@pytest.mark.parametrize("label", ["ca", "node:pve1", "node:x"])
def test_ed25519_agrees_with_cryptography(label: str) -> None:
    seed = certs.key_seed(label)
    public = _key(label).public_key()
    assert der.ed25519_public(seed) == public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    message = f"signed by {label}".encode() * 20
    signature = der.ed25519_sign(seed, message)
    assert signature == _key(label).sign(message)  # Ed25519 signatures are deterministic
    public.verify(signature, message)


def test_listing_nodes_does_not_load_cryptography() -> None:
    """/nodes and /cluster/resources show each node's certificate fingerprint: made without importing
    cryptography (17 MB of resident memory); certificates/info still parses with it."""
    script = """
import asyncio, sys
import httpx
from pvegateway.app import create_app
ROOT_PASSWORD = "certificates-test"

async def main():
    app = create_app("9.2", "mock", root_password=ROOT_PASSWORD)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://pve/api2/json") as client:
        login = await client.post("/access/ticket", data={"username": "root@pam", "password": ROOT_PASSWORD})
        client.cookies.set("PVEAuthCookie", login.json()["data"]["ticket"])
        nodes = (await client.get("/nodes")).json()["data"]
        assert all(len(n["ssl_fingerprint"]) == 95 for n in nodes), nodes
        assert (await client.get("/cluster/resources")).status_code == 200
        print("cryptography" in sys.modules)
        assert (await client.get("/nodes/pve1/certificates/info")).status_code == 200
        print("cryptography" in sys.modules)

asyncio.run(main())
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.split() == ["False", "True"]
