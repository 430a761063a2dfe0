"""Secrets the gateway is given: read from a FILE or the environment, and bearer keys checked safely.

One place for both, because every guarded surface (gateway API keys, the codegen admin key, the
metrics token, the mock's control key) must read and compare its secret the same way:

- reading: from a file named by a flag, else an environment variable; never argv, which every local
  user can read. An unreadable file stops startup with its path and reason, never a traceback.
- comparing: keys are kept only as SHA-256 digests and a presented key is digested too, so
  ``hmac.compare_digest`` always compares equal lengths: the time taken says nothing about a key, not
  even its length; with several keys every one is compared (no early exit says which matched).
- strength: a key must be able to hold 128 bits (:func:`require_strong_keys`), checked when the
  options naming it are made, i.e. at startup.
- guessing: wrong keys are counted per client address, for each guard: after 10 in a minute every
  key attempt from that address is a 429 with ``Retry-After`` (the right key too, or the refusal would
  tell a right guess), see :mod:`pvegateway.ratelimit.failures`. Right keys spend nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import os
import string
from collections.abc import Iterable, Mapping
from pathlib import Path

from .ratelimit.failures import FailureThrottle, key_throttle

MIN_KEY_BITS = 128
# bits a character can carry, by the smallest usual alphabet a key's characters all come from
_ALPHABETS = ((frozenset(string.hexdigits), 4.0),
              (frozenset(string.ascii_letters + string.digits + "+/=-_"), 6.0))
_ANY_PRINTABLE = math.log2(95)
_BEARER = "bearer"
_SEPARATORS = " \t"


def read_secret_file(path: str, what: str) -> str:
    """The stripped text of ``path``; SystemExit naming ``what`` and the reason when it cannot be read."""
    try:
        return Path(path).expanduser().read_text().strip()
    except OSError as err:
        raise SystemExit(f"pvegateway: cannot read {what} from {path}: {err.strerror}") from None


def secret_from(path: str | None, variable: str, what: str) -> str | None:
    """One secret from FILE if given, else from ``variable``; None when neither holds one."""
    text = read_secret_file(path, what) if path else os.environ.get(variable, "")
    return text.strip() or None


def key_lines(text: str) -> list[str]:
    """Keys one a line; blank lines and ``#`` comments skipped."""
    return [key for key in (line.strip() for line in text.splitlines()) if key and not key.startswith("#")]


def keys_from(path: str | None, variable: str, what: str) -> list[str]:
    """Several keys, one a line, from FILE if given, else from ``variable``."""
    return key_lines(read_secret_file(path, what) if path else os.environ.get(variable, ""))


def key_bits(key: str) -> float:
    """The most a key can hold: its length times the bits a character of its alphabet carries (hex
    digits 4, base64 6, anything else as printable ASCII, 6.6). An upper bound, not its entropy: a
    guessable key stays guessable, but a short one is refused whatever it is made of."""
    chars = set(key)
    per_char = next((bits for alphabet, bits in _ALPHABETS if chars <= alphabet), _ANY_PRINTABLE)
    return len(key) * per_char


def require_strong_keys(keys: Iterable[str | None], what: str) -> None:
    """ValueError when a key of ``keys`` cannot hold MIN_KEY_BITS; the message says which one (by
    position) and how to make one, never the key itself."""
    given = [key for key in keys if key]
    for number, key in enumerate(given, 1):
        bits = key_bits(key)
        if bits < MIN_KEY_BITS:
            which = f"{what} {number} of {len(given)}" if len(given) > 1 else what
            raise ValueError(
                f"{which} is too short: {len(key)} characters hold at most {bits:.0f} bits, and at least "
                f"{MIN_KEY_BITS} are needed (e.g. 32 hex digits: openssl rand -hex 16)")


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()


class BearerKeys:
    """Keys accepted in ``Authorization: Bearer <key>``, kept as digests (empty keys are ignored), and
    the count of wrong ones per client (``throttle``; by default :data:`~.ratelimit.failures.KEY_FAILURES`,
    in this process's memory)."""

    def __init__(self, keys: Iterable[str | None], throttle: FailureThrottle | None = None) -> None:
        self._digests = tuple(_digest(k) for k in keys if k)
        self._throttle = throttle

    def __bool__(self) -> bool:
        return bool(self._digests)

    @staticmethod
    def presented(headers: Mapping[str, str]) -> str | None:
        """The key a request presents, or None when its ``Authorization`` is not a bearer one (e.g. a
        ``PVEAPIToken`` meant for PVE).

        Any value whose scheme reads ``bearer`` in any case is a key attempt, however malformed: one
        not recognised here would be passed on (a proxy forwards ``Authorization`` to its node). Spaces
        and tabs around the key are dropped; a value with no separator after the scheme
        (``BearerKEY``) presents the empty key, which no key matches."""
        value = headers.get("authorization", "").lstrip(_SEPARATORS)
        if value[:len(_BEARER)].lower() != _BEARER:
            return None
        rest = value[len(_BEARER):]
        return rest.strip(_SEPARATORS) if rest and rest[0] in _SEPARATORS else ""

    def valid(self, key: str) -> bool:
        probe = _digest(key)
        found = False
        for digest in self._digests:  # no early exit: the time taken says nothing about which key
            found |= hmac.compare_digest(probe, digest)
        return found

    @property
    def throttle(self) -> FailureThrottle:
        if self._throttle is None:  # made on first use: a guard without keys never needs one
            self._throttle = key_throttle()
        return self._throttle

    async def attempt(self, key: str, client: str | None) -> bool:
        """Whether ``key`` is one of the keys; PVEError 429 when ``client`` has failed too often
        lately (whatever ``key`` is); a wrong key counts one failure."""
        await self.throttle.check(None, client)
        if self.valid(key):
            return True
        await self.throttle.failed(None, client)
        return False

    async def admits(self, headers: Mapping[str, str], client: str | None) -> bool:
        """Whether ``headers`` present one of the keys. Any ``Authorization`` is an attempt (a wrong
        scheme counts as a wrong key); a request without one is not, and counts nothing."""
        if "authorization" not in headers:
            return False
        return await self.attempt(self.presented(headers) or "", client)


def same_secret(expected: str, given: str) -> bool:
    """Compare two secrets in time that depends on neither (digests first: equal length, always)."""
    return hmac.compare_digest(_digest(expected), _digest(given))
