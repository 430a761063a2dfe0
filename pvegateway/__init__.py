"""pvegateway: a Proxmox VE API gateway and mock driven by PVE's own apidoc schema."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["create_app"]

if TYPE_CHECKING:
    from .app import create_app


def __getattr__(name: str) -> Any:
    # keep `import pvegateway` (and the CLI) light: the app stack loads on first use
    if name == "create_app":
        from .app import create_app

        return create_app
    raise AttributeError(name)
