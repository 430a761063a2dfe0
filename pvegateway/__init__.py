"""pvegateway: a Proxmox VE API gateway and mock driven by PVE's own apidoc schema."""

from __future__ import annotations

__version__ = "0.1.0"
