"""What proxy mode is configured with: upstreams, trust, timeouts and credentials."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from ...secrets import require_strong_keys


class ProxyConfigError(ValueError):
    """A configuration the proxy refuses to start with; the message says what to change."""


@dataclass(frozen=True)
class ServiceCredential:
    """The gateway's own PVE account, used only for callers that present a gateway API key.

    Either an API token (``user@realm!name=secret``) or a user and password (a ticket is obtained and
    renewed by the gateway). ``repr`` never shows the secret.
    """

    token: str | None = field(default=None, repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if bool(self.token) == bool(self.username):
            raise ProxyConfigError("a service credential is either an API token or a user and password")
        if self.username and not self.password:
            raise ProxyConfigError(f"service user {self.username!r} has no password")
        if self.token and ("!" not in self.token or "=" not in self.token):
            raise ProxyConfigError("a service API token looks like user@realm!tokenid=secret")

    @property
    def userid(self) -> str:
        return (self.token.split("!", 1)[0] if self.token else self.username) or ""


@dataclass(frozen=True)
class ProxyOptions:
    upstreams: Sequence[str]
    ca_file: str | None = None
    fingerprints: Sequence[str] = ()
    insecure: bool = False
    connect_timeout: float = 5.0
    read_timeout: float = 30.0  # pveproxy's own proxy timeout (AnyEvent.pm 835)
    retries: int = 1  # further upstreams tried for a GET that failed after it was sent
    down_for: float = 10.0  # seconds an unreachable upstream is tried last
    pool_size: int = 256  # connections per upstream
    api_keys: Sequence[str] = field(default=(), repr=False)
    service: ServiceCredential | None = None
    check_responses: bool = False

    def __post_init__(self) -> None:
        if not self.upstreams:
            raise ProxyConfigError("proxy mode needs at least one --upstream https://HOST:8006")
        for upstream in self.upstreams:
            parse_upstream(upstream)
        try:
            require_strong_keys(self.api_keys, "a gateway API key")
        except ValueError as err:
            raise ProxyConfigError(str(err)) from None
        if self.service is not None and not self.api_keys:
            raise ProxyConfigError(
                "a service credential needs gateway API keys (--api-keys FILE): without them every caller "
                "would act as the service account")
        if self.insecure and (self.ca_file or self.fingerprints):
            raise ProxyConfigError("--insecure turns verification off: do not combine it with --ca or --fingerprint")
        if self.connect_timeout <= 0 or self.read_timeout <= 0:
            raise ProxyConfigError("timeouts must be positive")


@dataclass(frozen=True)
class UpstreamURL:
    scheme: str
    host: str
    port: int


def parse_upstream(text: str) -> UpstreamURL:
    """``https://HOST[:PORT]`` (port 443, or 80 for http, when not given), nothing more."""
    try:
        url = urlsplit(text)
        port = url.port
    except ValueError as err:
        raise ProxyConfigError(f"upstream {text!r} is not an http(s)://HOST[:PORT] URL ({err})") from None
    if url.scheme not in ("https", "http") or not url.hostname:
        raise ProxyConfigError(f"upstream {text!r} is not an http(s)://HOST[:PORT] URL")
    if url.path not in ("", "/") or url.query or url.fragment or url.username or url.password:
        raise ProxyConfigError(f"upstream {text!r}: give only scheme, host and port")
    return UpstreamURL(url.scheme, url.hostname, port or (443 if url.scheme == "https" else 80))


def upstream_urls(options: ProxyOptions) -> list[UpstreamURL]:
    return [parse_upstream(u) for u in options.upstreams]
