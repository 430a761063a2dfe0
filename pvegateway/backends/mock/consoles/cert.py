"""The cluster CA's certificate the console answers carry (``cert``; spice's ``ca``), and the node
certificate's subject spice clients check (``host-subject``).

PVE reads them from /etc/pve/pve-root-ca.pem and the node's pve-ssl.pem, made by pve-cluster
(src/PVE/Cluster/Setup.pm:449, 522). The mock makes a CA of the same subject once per process: no
client connects to it over TLS, they only show or store it.
"""

from __future__ import annotations

import datetime
import functools
import uuid

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@functools.cache
def root_ca_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, "Proxmox Virtual Environment"),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, str(uuid.uuid4())),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "PVE Cluster Manager CA"),
    ])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def node_subject(node: str) -> str:
    """The node certificate's subject as remote-viewer wants it: comma-separated, in the order
    PVE writes it (pve-access-control AccessControl.pm read_x509_subject_spice)."""
    return f"OU=PVE Cluster Node,O=Proxmox Virtual Environment,CN={node}"
