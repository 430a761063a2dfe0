"""PVE tickets and CSRF tokens, signed with HMAC-SHA256 instead of PVE's RSA key.

Formats are PVE's (pve-common Ticket.pm): ``PVE:<userid>:<8 hex epoch>::<signature>`` and
``<8 hex epoch>:<signature>``. Signing with a shared secret keeps tickets valid across restarts and
across processes that share it; comparisons are constant time.

A genuine ticket or token is remembered (a small bounded table per signer, never logged) so that the
next request presenting it skips the HMAC; its age is still checked against the clock every time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass, field

MIN_AGE = -300  # clock skew grace
MAX_AGE = 7200  # two hours
_TICKET = re.compile(r"^PVE:([^:\s]+):([0-9A-F]{8})::([A-Za-z0-9+/=_-]+)$")
_CSRF = re.compile(r"^([0-9A-F]{8}):([A-Za-z0-9+/=_-]+)$")
# short-lived tickets (VNC, pve-access-control AccessControl.pm:518-555): an age window of seconds
SHORT_MIN_AGE = -20
SHORT_MAX_AGE = 40
_SHORT = re.compile(r"^(PVEVNC:[0-9A-F]{8})::([A-Za-z0-9+/=_-]+)$")
_PASSWORD_PREFIX = re.compile(r"^.{8}:(PVEVNC:.*)$", re.DOTALL)  # AccessControl.pm:570-572
VERIFIED_CACHE_SIZE = 256  # per table: a few busy clients' tickets, not an unbounded store


def _sign(secret: bytes, data: str) -> str:
    digest = hmac.new(secret, data.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode().rstrip("=")


def _remember(table: dict[str, tuple[str, int]], key: str, value: tuple[str, int]) -> None:
    if len(table) >= VERIFIED_CACHE_SIZE:
        table.pop(next(iter(table), ""), None)  # the oldest entry
    table[key] = value


@dataclass(frozen=True, slots=True)
class Signer:
    secret: bytes
    # genuine (signature checked) tickets -> (userid, stamp) and CSRF tokens -> (userid, stamp)
    _tickets: dict[str, tuple[str, int]] = field(default_factory=dict, init=False, repr=False, compare=False)
    _tokens: dict[str, tuple[str, int]] = field(default_factory=dict, init=False, repr=False, compare=False)

    def ticket(self, userid: str, now: int) -> str:
        plain = f"PVE:{userid.replace(':', '%3A')}:{now:08X}"
        return f"{plain}::{_sign(self.secret, plain)}"

    def verify_ticket(self, ticket: str, now: int) -> str | None:
        """The ticket's user when it is genuine and within PVE's age window, else None."""
        known = self._tickets.get(ticket)
        if known is None:
            match = _TICKET.match(ticket)
            if match is None:
                return None
            userid, stamp, signature = match.groups()
            plain = f"PVE:{userid}:{stamp}"
            if not hmac.compare_digest(_sign(self.secret, plain), signature):
                return None
            known = (userid.replace("%3A", ":"), int(stamp, 16))
            _remember(self._tickets, ticket, known)
        age = now - known[1]
        if not MIN_AGE < age < MAX_AGE:
            return None
        return known[0]

    def csrf(self, userid: str, now: int) -> str:
        stamp = f"{now:08X}"
        return f"{stamp}:{_sign(self.secret, f'{stamp}:{userid}')}"

    def verify_csrf(self, token: str, userid: str, now: int) -> bool:
        known = self._tokens.get(token)
        if known is None or known[0] != userid:
            match = _CSRF.match(token)
            if match is None:
                return False
            stamp, signature = match.groups()
            if not hmac.compare_digest(_sign(self.secret, f"{stamp}:{userid}"), signature):
                return False
            known = (userid, int(stamp, 16))
            _remember(self._tokens, token, known)
        return MIN_AGE < now - known[1] < MAX_AGE

    def vnc_ticket(self, userid: str, path: str, port: int, now: int) -> str:
        """A VNC ticket (AccessControl.pm assemble_vnc_ticket): neither the user nor the path and port
        appear in it, they are part of what is signed."""
        plain = f"PVEVNC:{now:08X}"
        return f"{plain}::{_sign(self.secret, f'{plain}:{userid}:{path}:{port}')}"

    def spice_proxy_ticket(self, vmid: int, node: str, port: int, now: int) -> str:
        """What a SPICE client presents to spiceproxy as its host (pve-common Ticket.pm:112-150): in
        lower case, signed with a 40-hex-digit digest (the mock's: an HMAC-SHA1 with its secret)."""
        plain = f"pvespiceproxy:{now:08x}:{vmid}:{node.lower()}:{port}"
        return f"{plain}::{hmac.new(self.secret, plain.encode(), hashlib.sha1).hexdigest()}"

    def verify_vnc_ticket(self, ticket: str, userid: str, path: str, port: int | None, now: int) -> bool:
        """AccessControl.pm verify_vnc_ticket: genuine for this user, path and port, and under 40
        seconds old; a ``<password>:`` prefix (what vncproxy answers with a password) is allowed."""
        prefixed = _PASSWORD_PREFIX.match(ticket)
        match = _SHORT.match(prefixed.group(1) if prefixed else ticket)
        if match is None:
            return False
        plain, signature = match.groups()
        signed = f"{plain}:{userid}:{path}" if port is None else f"{plain}:{userid}:{path}:{port}"
        if not hmac.compare_digest(_sign(self.secret, signed), signature):
            return False
        return SHORT_MIN_AGE < now - int(plain[7:], 16) < SHORT_MAX_AGE
