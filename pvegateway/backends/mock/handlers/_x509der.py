"""The mock cluster's certificates as DER bytes, built here: Ed25519 (RFC 8032) and the few DER forms an
X.509 certificate of pve-cluster's shape needs (RFC 5280).

``/nodes`` and ``/cluster/resources`` show each node's certificate fingerprint and consoles carry the
root CA's PEM: importing ``cryptography`` for them cost 17 MB of resident memory, a quarter of the mock's.
Built here, the certificates are byte for byte what ``cryptography``'s CertificateBuilder makes from the
same keys and fields (tests/mock/test_certificates.py holds the two side by side); ``cryptography`` is
imported only to parse them for ``certificates/info``.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import ipaddress
from dataclasses import dataclass

# --- Ed25519, RFC 8032 section 5.1 --------------------------------------------------------------------

_P = 2**255 - 19
_L = 2**252 + 27742317777372353535851937790883648493
_D = -121665 * pow(121666, -1, _P) % _P
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)
_Point = tuple[int, int, int, int]  # extended coordinates (X, Y, Z, T), x = X/Z, y = Y/Z, x*y = T/Z


def _add(a: _Point, b: _Point) -> _Point:
    x1, y1, z1, t1 = a
    x2, y2, z2, t2 = b
    e1 = (y1 - x1) * (y2 - x2) % _P
    e2 = (y1 + x1) * (y2 + x2) % _P
    c = t1 * 2 * _D * t2 % _P
    d = z1 * 2 * z2 % _P
    e, f, g, h = e2 - e1, d - c, d + c, e2 + e1
    return e * f % _P, g * h % _P, f * g % _P, e * h % _P


def _times(scalar: int, point: _Point) -> _Point:
    result: _Point = (0, 1, 1, 0)
    while scalar:
        if scalar & 1:
            result = _add(result, point)
        point = _add(point, point)
        scalar >>= 1
    return result


def _x_of(y: int, sign: int) -> int:
    x2 = (y * y - 1) * pow(_D * y * y + 1, -1, _P) % _P
    x = pow(x2, (_P + 3) // 8, _P)
    if (x * x - x2) % _P:
        x = x * _SQRT_M1 % _P
    return _P - x if x & 1 != sign else x


_GY = 4 * pow(5, -1, _P) % _P
_GX = _x_of(_GY, 0)
_BASE: _Point = (_GX, _GY, 1, _GX * _GY % _P)


def _encode(point: _Point) -> bytes:
    x, y, z, _ = point
    inverse = pow(z, -1, _P)
    x, y = x * inverse % _P, y * inverse % _P
    return (y | (x & 1) << 255).to_bytes(32, "little")


def _expand(seed: bytes) -> tuple[int, bytes]:
    digest = hashlib.sha512(seed).digest()
    scalar = int.from_bytes(digest[:32], "little") & (1 << 254) - 8 | 1 << 254
    return scalar, digest[32:]


def ed25519_public(seed: bytes) -> bytes:
    """The public key of the private key ``seed`` (32 bytes)."""
    return _encode(_times(_expand(seed)[0], _BASE))


def ed25519_sign(seed: bytes, message: bytes) -> bytes:
    scalar, prefix = _expand(seed)
    public = _encode(_times(scalar, _BASE))
    r = int.from_bytes(hashlib.sha512(prefix + message).digest(), "little") % _L
    big_r = _encode(_times(r, _BASE))
    h = int.from_bytes(hashlib.sha512(big_r + public + message).digest(), "little") % _L
    return big_r + ((r + h * scalar) % _L).to_bytes(32, "little")


# --- DER ----------------------------------------------------------------------------------------------


def _tlv(tag: int, content: bytes) -> bytes:
    size = len(content)
    if size < 0x80:
        head = bytes((size,))
    else:
        raw = size.to_bytes((size.bit_length() + 7) // 8, "big")
        head = bytes((0x80 | len(raw),)) + raw
    return bytes((tag,)) + head + content


def _seq(*parts: bytes) -> bytes:
    return _tlv(0x30, b"".join(parts))


def _oid(dotted: str) -> bytes:
    arcs = [int(arc) for arc in dotted.split(".")]
    out = bytearray()
    for arc in [arcs[0] * 40 + arcs[1], *arcs[2:]]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(arc & 0x7F | 0x80)
            arc >>= 7
        out += bytes(reversed(chunk))
    return _tlv(0x06, bytes(out))


def _int(value: int) -> bytes:
    return _tlv(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big"))


def _bits(data: bytes, unused: int = 0) -> bytes:
    return _tlv(0x03, bytes((unused,)) + data)


CN, OU, ORG = "2.5.4.3", "2.5.4.11", "2.5.4.10"  # commonName, organizationalUnitName, organizationName
_ED25519 = _seq(_oid("1.3.101.112"))


def _name(*parts: tuple[str, str]) -> bytes:
    return _seq(*(_tlv(0x31, _seq(_oid(oid), _tlv(0x0C, value.encode()))) for oid, value in parts))


def _time(when: datetime.datetime) -> bytes:
    utc = when.astimezone(datetime.UTC)
    if utc.year < 2050:  # RFC 5280 4.1.2.5
        return _tlv(0x17, utc.strftime("%y%m%d%H%M%SZ").encode())
    return _tlv(0x18, utc.strftime("%Y%m%d%H%M%SZ").encode())


def _extension(oid: str, value: bytes, critical: bool = False) -> bytes:
    return _seq(_oid(oid), *([_tlv(0x01, b"\xff")] if critical else []), _tlv(0x04, value))


@dataclass(frozen=True)
class Spec:
    """What a certificate holds: its names, serial, validity, subject key and issuer key (seeds)."""

    subject: tuple[tuple[str, str], ...]
    issuer: tuple[tuple[str, str], ...]
    serial: int
    not_before: datetime.datetime
    not_after: datetime.datetime
    key: bytes  # the subject's private key (Ed25519 seed)
    signer: bytes  # the issuer's
    ca: bool = False
    alt_names: tuple[str, ...] = ()  # IP addresses or DNS names, in order


def _alt_name(name: str) -> bytes:
    try:
        return _tlv(0x87, ipaddress.ip_address(name).packed)  # iPAddress [7]
    except ValueError:
        return _tlv(0x82, name.encode())  # dNSName [2]


def certificate(spec: Spec) -> bytes:
    """The DER of ``spec``'s certificate, signed by its issuer's key."""
    if spec.ca:
        extensions = [
            _extension("2.5.29.19", _seq(_tlv(0x01, b"\xff")), critical=True),  # basicConstraints CA
            _extension("2.5.29.15", _bits(b"\x06", 1), critical=True),  # keyUsage keyCertSign, cRLSign
        ]
    else:
        extensions = [
            _extension("2.5.29.19", _seq()),  # basicConstraints, not a CA
            _extension("2.5.29.37", _seq(_oid("1.3.6.1.5.5.7.3.1"))),  # extKeyUsage serverAuth
            _extension("2.5.29.17", _seq(*(_alt_name(name) for name in spec.alt_names))),
        ]
    tbs = _seq(
        _tlv(0xA0, _int(2)), _int(spec.serial), _ED25519, _name(*spec.issuer),
        _seq(_time(spec.not_before), _time(spec.not_after)), _name(*spec.subject),
        _seq(_ED25519, _bits(ed25519_public(spec.key))), _tlv(0xA3, _seq(*extensions)),
    )
    return _seq(tbs, _ED25519, _bits(ed25519_sign(spec.signer, tbs)))


def pem(der: bytes) -> str:
    text = base64.b64encode(der).decode()
    lines = [text[i:i + 64] for i in range(0, len(text), 64)]
    return "-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n"
