"""The SHA-256 fingerprint ``serve`` prints for its certificate, and for one given with --tls-cert: the
digest a TLS client pins (of the leaf's DER bytes), as ``cryptography`` computes it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
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


def test_a_start_with_its_certificate_made_loads_no_x509_library(tmp_path: Path) -> None:
    """cryptography is for making the certificate once: importing it took a tenth of each TLS start and
    ~10 MB of memory for good."""
    statedir.certificate(tmp_path)
    probe = ("import sys; from pathlib import Path; from pvegateway import statedir; "
             f"statedir.certificate(Path({str(tmp_path)!r})); print('cryptography' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "False"


def test_a_first_start_makes_its_certificate_without_loading_the_x509_library(tmp_path: Path) -> None:
    """Made in a child process: the server that asked keeps no cryptography (17 MB resident) for it."""
    probe = ("import sys; from pathlib import Path; from pvegateway import statedir; "
             f"print(statedir.certificate(Path({str(tmp_path)!r}))[2]); print('cryptography' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60)
    fingerprint, loaded = out.stdout.split()
    assert loaded == "False" and fingerprint == _reference((tmp_path / "pvegateway.pem").read_bytes())


def test_the_certificate_is_made_here_when_no_child_can_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-such-python"))
    cert, key, fingerprint = statedir.certificate(tmp_path)
    assert fingerprint == _reference(cert.read_bytes()) and key.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
