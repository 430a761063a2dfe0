"""TOTP as proxmox-tfa reads and checks it (proxmox-rs proxmox-tfa/src/totp.rs): an ``otpauth://totp/``
URI's secret, digits, algorithm and period, and a value accepted one step either side of now.

Only what a TFA entry needs: reading the URI a client registers (with PVE's texts for a bad one) and
checking the value that confirms it. Secrets never leave this module in an error text.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes

_ALGORITHMS = {"SHA1": hashlib.sha1, "SHA256": hashlib.sha256, "SHA512": hashlib.sha512}


class TotpError(Exception):
    """proxmox-tfa's text for a URI it cannot read (totp.rs:388-480)."""


@dataclass(frozen=True)
class Totp:
    secret: bytes
    digits: int = 6
    algorithm: str = "SHA1"
    period: int = 30

    @classmethod
    def parse(cls, uri: str) -> Totp:
        """totp.rs:388-480 ``from_str``."""
        if not uri.startswith("otpauth://totp/"):
            raise TotpError("not an otpauth uri")
        rest = uri[len("otpauth://totp/"):]
        if "?" not in rest:
            raise TotpError("missing '?' in otp uri")
        query = rest.partition("?")[2]
        secret, digits, algorithm, period = b"", 6, "SHA1", 30
        for part in query.split("&"):
            key_bytes, sep, raw = part.partition("=")
            if not sep:
                raise TotpError("bad value in otpauth uri")
            key, value = unquote_to_bytes(key_bytes).decode("utf-8", "replace"), unquote_to_bytes(raw)
            if key == "secret":
                secret = _base32(value.decode("utf-8", "replace"))
            elif key in ("digits", "period"):
                number = value.decode("utf-8", "replace")
                if not number.isdigit():
                    raise TotpError(f"failed to parse value '{key}'")
                digits, period = (int(number), period) if key == "digits" else (digits, int(number))
            elif key == "algorithm":
                algorithm = value.decode("utf-8", "replace")
                if algorithm not in _ALGORITHMS:
                    raise TotpError(f"unsupported algorithm: '{algorithm}'")
            elif key != "issuer":
                raise TotpError(f"unknown otpauth uri parameter: '{key}'")
        if not secret:
            raise TotpError("missing secret in otpauth url")
        return cls(secret, digits, algorithm, period or 30)

    def value(self, counter: int) -> str:
        """RFC 4226 HOTP of ``counter``, as many digits as configured."""
        mac = hmac.new(self.secret, struct.pack(">Q", counter), _ALGORITHMS[self.algorithm]).digest()
        offset = mac[-1] & 0x0F
        code = struct.unpack(">I", mac[offset:offset + 4])[0] & 0x7FFFFFFF
        return str(code % 10**self.digits).rjust(self.digits, "0")

    def verify(self, given: str, now: int) -> bool:
        """totp.rs:326-340 with the steps add_totp allows (-1..=1, proxmox-tfa api/methods.rs)."""
        counter = now // self.period
        return any(hmac.compare_digest(self.value(counter + step), given) for step in (-1, 0, 1))


def _base32(text: str) -> bytes:
    """RFC 4648 without padding, as the base32 crate decodes it (any case)."""
    try:
        return base64.b32decode(text.upper() + "=" * (-len(text) % 8))
    except ValueError:
        raise TotpError("failed to decode otp secret in otpauth url") from None
