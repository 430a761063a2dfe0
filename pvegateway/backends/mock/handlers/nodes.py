"""Mock handlers: nodes (placeholder until filled in)."""

from __future__ import annotations

from ..runtime import Handler

ROUTES: dict[tuple[str, str], Handler] = {}
