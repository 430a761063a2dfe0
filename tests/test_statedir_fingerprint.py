"""The SHA-256 fingerprint ``serve`` prints for its certificate, and for one given with --tls-cert: the
digest a TLS client pins (of the leaf's DER bytes), as ``cryptography`` computes it."""

from __future__ import annotations

from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from pvegateway import statedir


def _reference(pem: bytes) -> str:
    cert = x509.load_pem_x509_certificate(pem)
    return ":".join(f"{b:02X}" for b in cert.fingerprint(hashes.SHA256()))


def test_the_made_certificate_is_fingerprinted_as_a_client_pins_it(tmp_path: Path) -> None:
    cert, _key, fingerprint = statedir.certificate(tmp_path)
    assert fingerprint == _reference(cert.read_bytes())
    assert len(fingerprint) == 95 and fingerprint == fingerprint.upper()


def test_a_chain_is_fingerprinted_by_its_leaf_whatever_text_comes_first(tmp_path: Path) -> None:
    leaf, _key, fingerprint = statedir.certificate(tmp_path / "leaf")
    other, _key, _other_fingerprint = statedir.certificate(tmp_path / "ca")
    chain = tmp_path / "chain.pem"
    # what `openssl pkcs12 -nokeys` writes: attribute lines before each block
    chain.write_bytes(b"Bag Attributes\n    friendlyName: leaf\n" + leaf.read_bytes() + other.read_bytes())
    assert statedir.fingerprint(chain) == fingerprint == _reference(leaf.read_bytes())
