"""``pvegateway serve`` flags for observability, and the :class:`Observability` they ask for."""

from __future__ import annotations

import argparse

from ..secrets import secret_from
from . import Observability, log_to

TOKEN_VARIABLE = "PVEGATEWAY_METRICS_TOKEN"  # noqa: S105  # nosec B105 # a variable name, not a secret


def add_arguments(serve: argparse.ArgumentParser) -> None:
    group = serve.add_argument_group("observability", "/healthz and /readyz are always served")
    group.add_argument("--access-log", action=argparse.BooleanOptionalAction, default=True,
                       help="one JSON line per API request on stdout: method, path template, status, timings, "
                            "client (never the concrete path, query, headers or body)")
    group.add_argument("--metrics", action="store_true",
                       help="serve Prometheus metrics at /metrics (off by default: the API's listener is "
                            "usually reachable by every API client)")
    group.add_argument("--metrics-token-file", metavar="FILE",
                       help=f"/metrics then needs 'Authorization: Bearer TOKEN' (or {TOKEN_VARIABLE})")


def metrics_token(args: argparse.Namespace) -> str | None:
    """From a file or the environment, never argv (which every local user can read)."""
    return secret_from(args.metrics_token_file, TOKEN_VARIABLE, "the metrics token")


def from_args(backend: str, args: argparse.Namespace) -> Observability:
    """What the flags ask for, for a gateway in front of ``backend`` (its name)."""
    if args.access_log:
        log_to()  # stdout, apart from the server's own log
    return Observability(backend, access_log=args.access_log, metrics=args.metrics,
                         metrics_token=metrics_token(args))
