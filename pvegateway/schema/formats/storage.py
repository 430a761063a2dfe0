"""Code formats registered by storage (placeholder until filled in)."""

from __future__ import annotations

from . import CodeFormat

FORMATS: dict[str, CodeFormat] = {}
