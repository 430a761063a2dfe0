"""The cluster's certificates as pve-cluster makes them (src/PVE/Cluster/Setup.pm:425-565): a root CA
and one ``pve-ssl.pem`` per node, signed by it.

Real X.509 certificates, so a client can parse ``pem`` and check ``fingerprint`` against it; the same
every time for the same node: Ed25519 keys derived from the node's name and signatures that are
deterministic (PVE's keys are RSA; a deterministic RSA key would cost seconds per node).
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import uuid
from functools import cache
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ..state import Node

ISSUED = datetime.datetime(2024, 12, 30, tzinfo=datetime.UTC)  # the day before the nodes booted (faketime yesterday)
_CA_DAYS = 3650  # Setup.pm:437
_NODE_DAYS = 2 * 365  # Setup.pm:550-553
_ED25519_BITS = 253  # what OpenSSL's EVP_PKEY_bits reports for an Ed25519 key


def _key(label: str) -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.from_private_bytes(hashlib.sha256(f"pvegateway-mock:{label}".encode()).digest())


def _ca_name() -> x509.Name:
    ou = str(uuid.uuid5(uuid.NAMESPACE_URL, "pvegateway-mock:ca"))
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Proxmox Virtual Environment"),
                      x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "PVE Cluster Manager CA")])


@cache
def root_ca() -> x509.Certificate:
    key = _key("ca")
    return (x509.CertificateBuilder().subject_name(_ca_name()).issuer_name(_ca_name())
            .public_key(key.public_key()).serial_number(1)
            .not_valid_before(ISSUED).not_valid_after(ISSUED + datetime.timedelta(days=_CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .sign(key, None))


@cache
def root_ca_pem() -> str:
    """pve-root-ca.pem as console answers carry it (``cert``; spice's ``ca``)."""
    return root_ca().public_bytes(serialization.Encoding.PEM).decode()


@cache
def node_certificate(name: str, ip: str) -> x509.Certificate:
    """Setup.pm:497-528: ``/OU=PVE Cluster Node/O=Proxmox Virtual Environment/CN=<node>``, the loopbacks,
    the node's address and name as alternative names, server use only."""
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "PVE Cluster Node"),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Proxmox Virtual Environment"),
                         x509.NameAttribute(NameOID.COMMON_NAME, name)])
    names: list[x509.GeneralName] = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                     x509.IPAddress(ipaddress.ip_address("::1")), x509.DNSName("localhost")]
    try:
        names.append(x509.IPAddress(ipaddress.ip_address(ip)))
    except ValueError:  # a seed may name a node's address by host name
        names.append(x509.DNSName(ip))
    names.append(x509.DNSName(name))
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(_ca_name())
            .public_key(_key(f"node:{name}").public_key())
            .serial_number(int(hashlib.sha256(name.encode()).hexdigest()[:15], 16))
            .not_valid_before(ISSUED).not_valid_after(ISSUED + datetime.timedelta(days=_NODE_DAYS))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .sign(_key("ca"), None))


def _colons(digest: bytes) -> str:
    return ":".join(f"{b:02X}" for b in digest)


def node_fingerprint(node: Node) -> str:
    """The SHA-256 fingerprint of the node's pve-ssl.pem, as /nodes and the certificate info show it."""
    return _fingerprint(node.name, node.ip)


@cache  # as its certificate is: every /nodes and /cluster/resources shows it
def _fingerprint(name: str, ip: str) -> str:
    return _colons(node_certificate(name, ip).fingerprint(hashes.SHA256()))


def _oneline(name: x509.Name) -> str:
    """OpenSSL's X509_NAME_oneline: ``/TYPE=value`` for each part, in order."""
    short = {NameOID.COMMON_NAME: "CN", NameOID.ORGANIZATIONAL_UNIT_NAME: "OU", NameOID.ORGANIZATION_NAME: "O"}
    return "".join(f"/{short[a.oid]}={a.value!s}" for a in name)


def _san(cert: x509.Certificate) -> list[str]:
    """pve-common Certificate.pm:268-293: IPv6 addresses as eight 4-digit groups."""
    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    out: list[str] = []
    for entry in names:
        if isinstance(entry, x509.IPAddress) and entry.value.version == 6:
            out.append(":".join(entry.value.exploded.split(":")))
        else:
            out.append(str(entry.value))
    return out


def certificate_info(cert: x509.Certificate, filename: str) -> dict[str, Any]:
    """pve-common src/PVE/Certificate.pm:263-328 get_certificate_info."""
    return {"fingerprint": _colons(cert.fingerprint(hashes.SHA256())), "subject": _oneline(cert.subject),
            "issuer": _oneline(cert.issuer), "notbefore": int(cert.not_valid_before_utc.timestamp()),
            "notafter": int(cert.not_valid_after_utc.timestamp()), "san": _san(cert),
            "pem": cert.public_bytes(serialization.Encoding.PEM).decode(), "public-key-type": "ED25519",
            "public-key-bits": _ED25519_BITS, "filename": filename}


def node_certificates(node: Node) -> list[dict[str, Any]]:
    """pve-manager PVE/API2/Certificates.pm:66-82: the root CA, the node's certificate (no custom
    pveproxy-ssl.pem is uploaded in the mock)."""
    return [certificate_info(root_ca(), "pve-root-ca.pem"),
            certificate_info(node_certificate(node.name, node.ip), "pve-ssl.pem")]
