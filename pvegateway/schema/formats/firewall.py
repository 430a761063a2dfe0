"""Code formats registered by firewall (placeholder until filled in)."""

from __future__ import annotations

from . import CodeFormat

FORMATS: dict[str, CodeFormat] = {}
