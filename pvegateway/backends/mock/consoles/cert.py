"""The node certificate's subject spice clients check (``host-subject``); the CA certificate console
answers carry is the cluster's own (:func:`..handlers._certificates.root_ca_pem`), the one
``certificates/info`` shows.

PVE reads them from /etc/pve/pve-root-ca.pem and the node's pve-ssl.pem, made by pve-cluster
(src/PVE/Cluster/Setup.pm:449, 522).
"""

from __future__ import annotations


def node_subject(node: str) -> str:
    """The node certificate's subject as remote-viewer wants it: comma-separated, in the order
    PVE writes it (pve-access-control AccessControl.pm read_x509_subject_spice)."""
    return f"OU=PVE Cluster Node,O=Proxmox Virtual Environment,CN={node}"
