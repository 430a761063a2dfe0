"""docs/COVERAGE.md is what the generator prints (regenerate with ``make coverage-doc``)."""

from __future__ import annotations

from pathlib import Path

from pvegateway.backends.mock.coverage import render

DOC = Path(__file__).resolve().parents[2] / "docs" / "COVERAGE.md"


def test_coverage_doc_is_current() -> None:
    assert DOC.read_text() == render(), "docs/COVERAGE.md is stale: run `make coverage-doc`"


def test_counts_add_up() -> None:
    text = render()
    rows = [line for line in text.splitlines() if line.startswith(("| GET", "| POST", "| PUT", "| DELETE"))]
    mocked = sum(1 for line in rows if line.endswith("| mock |"))
    assert f"**{mocked} of {len(rows)} operations**" in text
    assert "| GET | `/cluster/resources` | mock |" in text
