"""Who is calling: PVE's auth_handler (pve-manager HTTPServer.pm) over the mock's users and tokens.

Failures answer like pveproxy: 401 with an empty body and the reason in the status line, after an
optional delay (PVE waits 3 s; the mock defaults to none so test suites stay fast).
"""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import Callable
from urllib.parse import unquote as _unquote

from ...errors import PVEError
from ...secrets import same_secret
from ..base import Identity, Incoming
from .state import Cluster, Token, User
from .tickets import VERIFIED_CACHE_SIZE, Signer

# pve-manager HTTPServer.pm: the routes that skip authentication (permissions.user == 'world')
OPEN_ROUTES = frozenset(
    {
        ("GET", "/access/domains"),
        ("GET", "/access/ticket"),
        ("POST", "/access/ticket"),
        ("POST", "/access/vncticket"),
        ("POST", "/access/openid/login"),
        ("POST", "/access/openid/auth-url"),
    }
)
_COOKIE = re.compile(r"(?:^|\s)PVEAuthCookie(?:=| )([^;]*)")
_TOKEN = re.compile(r"(?:^|\s)PVEAPIToken(?:=| )([^;]*)")
_TOKEN_ID = re.compile(r"^(\S+@[A-Za-z][A-Za-z0-9.\-_]+)!([A-Za-z][A-Za-z0-9.\-_]+)$")
_UPLOAD = re.compile(r"^/nodes/[^/]+/storage/[^/]+/upload$")

NO_TICKET = "No ticket"
AUTH_FAILED = "Authentication failed!"
BAD_CSRF = "Permission denied - invalid csrf token"


# Every request decodes its ticket or token (a few dozen %XX escapes) and its path: clients send the
# same few again and again, so the answers are kept. Pure functions of their argument; only short
# arguments are kept (a ticket is ~300 characters), so the tables stay under a megabyte whatever
# clients send.
CACHED_CHARS = 1024
_cached_unquote = functools.lru_cache(maxsize=512)(_unquote)


def unquote(text: str) -> str:
    return _cached_unquote(text) if len(text) <= CACHED_CHARS else _unquote(text)


def canonical(path: str) -> str:
    return _canonical(path) if len(path) <= CACHED_CHARS else _canonical.__wrapped__(path)


@functools.lru_cache(maxsize=512)
def _canonical(path: str) -> str:
    return "/" + "/".join(part for part in path.split("/") if part)


def user_active(user: User | None, now: int) -> bool:
    return user is not None and user.enable and (not user.expire or user.expire > now)


class Authenticator:
    def __init__(
        self, cluster: Callable[[], Cluster], signer: Signer, now: Callable[[], int], delay: float = 0.0
    ) -> None:
        self._cluster = cluster
        self._signer = signer
        self._now = now
        self.delay = delay
        # the Identity of each credential seen lately (it is the same every time; made once): checked
        # against the verified user on every use, bounded like the signer's tables
        self._identities: dict[str, Identity] = {}
        self._tokens_seen: dict[str, tuple[Identity, Token, str]] = {}  # see _token_identity

    def _identity(self, credentials: str, userid: str, tokenid: str | None) -> Identity:
        known = self._identities.get(credentials)
        if known is None or known.userid != userid or known.tokenid != tokenid:
            known = Identity(userid, tokenid, ticket=tokenid is None, credentials=credentials)
            if len(self._identities) >= VERIFIED_CACHE_SIZE:
                self._identities.pop(next(iter(self._identities), ""), None)  # the oldest entry
            self._identities[credentials] = known
        return known

    async def _refuse(self, reason: str) -> PVEError:
        if self.delay:
            await asyncio.sleep(self.delay)  # PVE slows down credential guessing
        return PVEError(401, reason, bare=True)

    async def authenticate(self, request: Incoming) -> Identity | None:
        path = canonical(request.path)
        if (request.method, path) in OPEN_ROUTES:
            # no credentials needed, but a token caller is still known: the generic allowtoken check
            # then refuses it where PVE does (POST /access/ticket), before parameter validation
            token = _TOKEN.search(request.headers.get("authorization", ""))
            return self._token_identity(unquote(token.group(1))) if token is not None else None
        headers = request.headers
        cookie = headers.get("cookie", "")
        authorization = headers.get("authorization", "")
        # the regexes only where their name is (a token caller's header holds no ticket)
        ticket = (_COOKIE.search(cookie) if "PVEAuthCookie" in cookie else None) or \
            (_COOKIE.search(authorization) if "PVEAuthCookie" in authorization else None)
        if ticket is not None:
            by_ticket = self._by_ticket(unquote(ticket.group(1)), request, path)
            if isinstance(by_ticket, Identity):
                return by_ticket
            raise await self._refuse(by_ticket)
        token = _TOKEN.search(authorization)
        if token is not None:
            identity = self._token_identity(unquote(token.group(1)))
            if identity is None:
                raise await self._refuse(AUTH_FAILED)
            return identity
        raise await self._refuse(NO_TICKET)

    def _by_ticket(self, ticket: str, request: Incoming, path: str) -> Identity | str:
        """The ticket's identity, or why it is refused."""
        now = self._now()
        userid = self._signer.verify_ticket(ticket, now)
        if userid is None or not user_active(self._cluster().users.get(userid), now):
            return AUTH_FAILED
        if request.method != "GET" and not _UPLOAD.match(path):
            csrf = request.headers.get("csrfpreventiontoken", "")
            if not self._signer.verify_csrf(csrf, userid, now):
                return BAD_CSRF
        return self._identity(ticket, userid, None)

    def _token_identity(self, value: str) -> Identity | None:
        """The token's identity when ``USER@REALM!NAME=SECRET`` is genuine and usable, else None.

        A value verified before is known by the token it matched (the same object, its secret the
        same): then its syntax and secret are not checked again (two digests a request), but whether
        the token and its user are still usable is, on every use."""
        kept = self._tokens_seen.get(value)
        if kept is not None:
            identity, matched, secret_then = kept
            now = self._now()
            user = self._cluster().users.get(identity.userid)
            if (user is not None and user.tokens.get(str(identity.tokenid)) is matched
                    and matched.secret == secret_then and user_active(user, now)
                    and not (matched.expire and matched.expire <= now)):
                return identity
            del self._tokens_seen[value]
        full, sep, secret = value.rpartition("=")
        match = _TOKEN_ID.match(full) if sep else None
        if match is None:
            return None
        userid, name = match.groups()
        now = self._now()
        user = self._cluster().users.get(userid)
        token = user.tokens.get(name) if user is not None else None
        if (
            token is None
            or not user_active(user, now)
            or (token.expire and token.expire <= now)
            or not same_secret(token.secret, secret)
        ):
            return None
        identity = self._identity(value, userid, name)
        if len(self._tokens_seen) >= VERIFIED_CACHE_SIZE:
            self._tokens_seen.pop(next(iter(self._tokens_seen), ""), None)  # the oldest entry
        self._tokens_seen[value] = (identity, token, token.secret)
        return identity
