"""The mock's DES (VNC authentication) against OpenSSL's, through ``cryptography``: TripleDES whose
three keys are one is single DES."""

from __future__ import annotations

import random

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, modes

from pvegateway.backends.mock.consoles.des import des_encrypt, vnc_response


def openssl_des(key: bytes, block: bytes) -> bytes:
    encryptor = Cipher(TripleDES(key * 3), modes.ECB()).encryptor()
    return encryptor.update(block) + encryptor.finalize()


def test_the_textbook_vector() -> None:
    # the worked example of FIPS 46's algorithm most courses use (key 133457799BBCDFF1)
    assert des_encrypt(bytes.fromhex("133457799BBCDFF1"), bytes.fromhex("0123456789ABCDEF")).hex() == "85e813540f0ab405"


def test_random_keys_and_blocks_agree_with_openssl() -> None:
    rng = random.Random(6143)
    for _ in range(200):
        key, block = rng.randbytes(8), rng.randbytes(8)
        assert des_encrypt(key, block) == openssl_des(key, block)


def test_vnc_response_mirrors_key_bits_and_pads_the_password() -> None:
    challenge = bytes(range(16))
    # "pass" padded with zero bytes; each key byte's bits reversed (0x70 'p' -> 0x0E ...)
    key = bytes((0x0E, 0x86, 0xCE, 0xCE, 0, 0, 0, 0))
    assert vnc_response(b"pass", challenge) == openssl_des(key, challenge[:8]) + openssl_des(key, challenge[8:])
    # only the first 8 bytes count: a whole PVE ticket authenticates like its password prefix
    assert vnc_response(b"abcdefgh:PVEVNC:rest", challenge) == vnc_response(b"abcdefgh", challenge)
