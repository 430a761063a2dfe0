"""Code formats registered by guests (placeholder until filled in)."""

from __future__ import annotations

from . import CodeFormat

FORMATS: dict[str, CodeFormat] = {}
