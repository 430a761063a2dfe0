"""Tests' way to give a gateway built by a fixture more parts: a new gateway around the same schema and
backend, composed with them (as an application composes one in ``create_app``), never parts attached
to a gateway afterwards."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pvegateway.app import Gateway
from pvegateway.extension import Extension
from pvegateway.http.api import Limiter
from pvegateway.observe import Observability
from pvegateway.ratelimit.cli import make_limiter


def composed(gateway: Gateway, *, limiter: Limiter | None = None, observability: Observability | None = None,
             extensions: Sequence[Extension] = ()) -> Gateway:
    seen = [observability] if observability is not None else []
    return Gateway(gateway.schema, gateway.backend, send_reason=gateway.send_reason,
                   limiter=limiter if limiter is not None else gateway.limiter,
                   observer=observability.observer if observability is not None else gateway.observer,
                   extensions=[*gateway.extensions, *seen, *extensions])


def observed(gateway: Gateway, **options: Any) -> Gateway:
    """``gateway`` with an access log, metrics and health routes (:class:`Observability` options)."""
    return composed(gateway, observability=Observability(gateway.backend.name, **options))


def limited(gateway: Gateway, rules: str, storage_uri: str = "memory://") -> Gateway:
    """``gateway`` with the rate limits of ``rules``."""
    return composed(gateway, limiter=make_limiter(rules, storage_uri))
