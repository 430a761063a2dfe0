"""Code formats registered by common (placeholder until filled in)."""

from __future__ import annotations

from . import CodeFormat

FORMATS: dict[str, CodeFormat] = {}
