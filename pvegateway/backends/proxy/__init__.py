"""Proxy mode: validate each request against the schema, then pass it to a real PVE node verbatim."""

from .backend import ProxyBackend
from .options import ProxyOptions

__all__ = ["ProxyBackend", "ProxyOptions"]
