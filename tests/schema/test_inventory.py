"""No format name in the 9.2 or 9.1.11 trees is left unchecked, and docs/FORMATS.md says so."""

from __future__ import annotations

from pathlib import Path

from pvegateway.schema.formats.inventory import implementation, render, usage_by_name

DOC = Path(__file__).resolve().parents[2] / "docs" / "FORMATS.md"


def test_every_format_in_the_trees_is_implemented() -> None:
    usage = usage_by_name()
    assert len(usage) >= 125
    missing = sorted(name for name in usage if implementation(name) is None)
    assert missing == []


def test_formats_doc_is_current() -> None:
    assert DOC.read_text() == render(usage_by_name()), "run 'make formats-doc'"
