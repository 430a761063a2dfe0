"""The cluster's certificates as pve-cluster makes them (src/PVE/Cluster/Setup.pm:425-565): a root CA
and one ``pve-ssl.pem`` per node, signed by it.

Real X.509 certificates, so a client can parse ``pem`` and check ``fingerprint`` against it; the same
every time for the same node: Ed25519 keys derived from the node's name and signatures that are
deterministic (PVE's keys are RSA; a deterministic RSA key would cost seconds per node). Their bytes
are built by ``_x509der``; ``cryptography`` is imported only to read them for ``certificates/info``.
"""

from __future__ import annotations

import datetime
import hashlib
import uuid
from functools import cache
from typing import TYPE_CHECKING, Any

from ..state import Node
from . import _x509der as der

if TYPE_CHECKING:
    from cryptography import x509

ISSUED = datetime.datetime(2024, 12, 30, tzinfo=datetime.UTC)  # the day before the nodes booted (faketime yesterday)
_CA_DAYS = 3650  # Setup.pm:437
_NODE_DAYS = 2 * 365  # Setup.pm:550-553
_ED25519_BITS = 253  # what OpenSSL's EVP_PKEY_bits reports for an Ed25519 key


def key_seed(label: str) -> bytes:
    """The Ed25519 private key (its 32-byte seed) of ``ca`` or ``node:<name>``."""
    return hashlib.sha256(f"pvegateway-mock:{label}".encode()).digest()


def _ca_name() -> tuple[tuple[str, str], ...]:
    ou = str(uuid.uuid5(uuid.NAMESPACE_URL, "pvegateway-mock:ca"))
    return (der.CN, "Proxmox Virtual Environment"), (der.OU, ou), (der.ORG, "PVE Cluster Manager CA")


@cache
def root_ca() -> bytes:
    """Setup.pm:425-457: the cluster's CA (DER), self-signed, for signing only."""
    return der.certificate(der.Spec(
        subject=_ca_name(), issuer=_ca_name(), serial=1, not_before=ISSUED,
        not_after=ISSUED + datetime.timedelta(days=_CA_DAYS), key=key_seed("ca"), signer=key_seed("ca"), ca=True))


@cache
def root_ca_pem() -> str:
    """pve-root-ca.pem as console answers carry it (``cert``; spice's ``ca``)."""
    return der.pem(root_ca())


@cache
def node_certificate(name: str, ip: str) -> bytes:
    """Setup.pm:497-528 (DER): ``/OU=PVE Cluster Node/O=Proxmox Virtual Environment/CN=<node>``, the
    loopbacks, the node's address and name as alternative names, server use only."""
    return der.certificate(der.Spec(
        subject=((der.OU, "PVE Cluster Node"), (der.ORG, "Proxmox Virtual Environment"), (der.CN, name)),
        issuer=_ca_name(), serial=int(hashlib.sha256(name.encode()).hexdigest()[:15], 16), not_before=ISSUED,
        not_after=ISSUED + datetime.timedelta(days=_NODE_DAYS), key=key_seed(f"node:{name}"),
        signer=key_seed("ca"), alt_names=("127.0.0.1", "::1", "localhost", ip, name)))


def _colons(digest: bytes) -> str:
    return ":".join(f"{b:02X}" for b in digest)


def node_fingerprint(node: Node) -> str:
    """The SHA-256 fingerprint of the node's pve-ssl.pem, as /nodes and the certificate info show it."""
    return _fingerprint(node.name, node.ip)


@cache  # as its certificate is: every /nodes and /cluster/resources shows it
def _fingerprint(name: str, ip: str) -> str:
    return _colons(hashlib.sha256(node_certificate(name, ip)).digest())


def _oneline(name: x509.Name) -> str:
    """OpenSSL's X509_NAME_oneline: ``/TYPE=value`` for each part, in order."""
    from cryptography.x509.oid import NameOID

    short = {NameOID.COMMON_NAME: "CN", NameOID.ORGANIZATIONAL_UNIT_NAME: "OU", NameOID.ORGANIZATION_NAME: "O"}
    return "".join(f"/{short[a.oid]}={a.value!s}" for a in name)


def _san(cert: x509.Certificate) -> list[str]:
    """pve-common Certificate.pm:268-293: IPv6 addresses as eight 4-digit groups."""
    from cryptography import x509
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


def certificate_info(data: bytes, filename: str) -> dict[str, Any]:
    """pve-common src/PVE/Certificate.pm:263-328 get_certificate_info, of a certificate's DER."""
    from cryptography import x509

    cert = x509.load_der_x509_certificate(data)
    return {"fingerprint": _colons(hashlib.sha256(data).digest()), "subject": _oneline(cert.subject),
            "issuer": _oneline(cert.issuer), "notbefore": int(cert.not_valid_before_utc.timestamp()),
            "notafter": int(cert.not_valid_after_utc.timestamp()), "san": _san(cert),
            "pem": der.pem(data), "public-key-type": "ED25519", "public-key-bits": _ED25519_BITS,
            "filename": filename}


def node_certificates(node: Node) -> list[dict[str, Any]]:
    """pve-manager PVE/API2/Certificates.pm:66-82: the root CA, the node's certificate (no custom
    pveproxy-ssl.pem is uploaded in the mock)."""
    return [certificate_info(root_ca(), "pve-root-ca.pem"),
            certificate_info(node_certificate(node.name, node.ip), "pve-ssl.pem")]
