"""How the codegen endpoints are configured: options, and the ``serve`` flags that fill them.

Off unless asked for (``--codegen``): a gateway that was not told to serve them has no such routes.
The admin key comes from a file or the environment, never argv (every local user can read argv).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..secrets import keys_from, require_strong_keys
from .sources import parse_url

ADMIN_KEY_ENV = "PVEGATEWAY_ADMIN_KEY"


@dataclass(frozen=True)
class CodegenOptions:
    """``admin_keys``: bearer keys for ``POST /codegen/generate`` (none: it answers 403).
    ``sources``: URLs whose origins ``generate`` may fetch from (besides the proxy's upstreams).
    ``schema_dir``: where fetched schemas are kept (default: a temporary directory).
    Rules are ``limits`` strings; the read endpoints' budgets are per client address, generate's is
    one for the whole gateway."""

    admin_keys: Sequence[str] = field(default=(), repr=False)
    sources: Sequence[str] = ()
    schema_dir: Path | None = None
    openapi_rule: str = "5/hour"
    jsonschema_rule: str = "5/hour"
    generate_rule: str = "1/hour"
    fetch_timeout: float = 60.0

    def __post_init__(self) -> None:
        require_strong_keys(self.admin_keys, "a codegen admin key")
        for url in self.sources:
            try:
                parse_url(url)
            except ValueError as err:
                raise ValueError(f"--codegen-source {url!r}: {err}") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "codegen", "/codegen/openapi, /codegen/jsonschema and POST /codegen/generate (off by default)")
    group.add_argument("--codegen", action="store_true",
                       help="serve the codegen endpoints (documents of any installed schema version)")
    group.add_argument("--admin-key-file", metavar="FILE",
                       help=f"bearer key(s), one a line, allowed to POST /codegen/generate "
                            f"(or {ADMIN_KEY_ENV}); without one, generate answers 403")
    group.add_argument("--codegen-source", action="append", metavar="URL", default=[],
                       help="an origin generate may fetch a schema from (repeatable); the proxy's "
                            "upstreams are always allowed")


def read_admin_keys(path: str | None) -> list[str]:
    """From ``path`` (one key a line, ``#`` comments) or the environment; never from argv."""
    return keys_from(path, ADMIN_KEY_ENV, "the admin key")


def from_args(args: argparse.Namespace, state_dir: Path | None = None) -> CodegenOptions | None:
    """The options ``serve`` was given, or None when ``--codegen`` was not (nothing is mounted)."""
    if not getattr(args, "codegen", False):
        if getattr(args, "admin_key_file", None) or getattr(args, "codegen_source", None):
            raise SystemExit("pvegateway: --admin-key-file and --codegen-source need --codegen")
        return None
    keys = read_admin_keys(args.admin_key_file)
    if keys and getattr(args, "workers", 1) > 1:
        raise SystemExit("pvegateway: POST /codegen/generate swaps the schema of the one process that "
                         "answers it; with --workers N the others would keep the old one. Run --workers 1 "
                         "to use it, or leave the admin key out (the documents still work)")
    return CodegenOptions(
        admin_keys=keys,
        sources=list(args.codegen_source or []),
        schema_dir=state_dir / "apidoc-fetched" if state_dir is not None else None,
    )
