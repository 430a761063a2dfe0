"""Examples read off the tree's (and the registered property strings') ``pattern``s match them as PVE
applies them (``m/^$pattern$/``, pve-common src/PVE/JSONSchema.pm:1636-1638, matched by :class:`Pattern`)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from pvegateway.apidoc.schema import load_schema
from pvegateway.schema.dialect import Pattern
from pvegateway.schema.formats.registry import HASH_FORMATS
from pvegateway.schema.regex_example import example


def _patterns(raw: Any) -> Iterator[str]:
    if isinstance(raw, Mapping):
        pattern = raw.get("pattern")
        if isinstance(pattern, str) and pattern:
            yield pattern
        for value in raw.values():
            yield from _patterns(value)
    elif isinstance(raw, list):
        for value in raw:
            yield from _patterns(value)


@pytest.mark.parametrize("version", ["9.2", "9.1.11"])
def test_every_pattern_of_the_tree_gets_a_matching_example(version: str) -> None:
    operations = load_schema(version).operations
    patterns = {p for raw in [*(op.parameters for op in operations), *(op.returns for op in operations),
                              *HASH_FORMATS.values()] for p in _patterns(raw)}
    failed = [(p, text) for p in sorted(patterns) for once in (True, False)
              if (text := example(p, repeat_once=once)) is None or not Pattern(p).matches(text)]
    assert not failed
    assert len(patterns) > 60


def test_examples_are_plain_and_short() -> None:
    assert example(r"[1-9][0-9]{2,8}-\d{1,9}", repeat_once=False) == "100-0"
    assert example(r"(now|\d{4}-\d{1,2}-\d{1,2})") == "now"  # the first alternative
    assert example(r"[^,;]+") == "a"
    assert example(r"(?=a)b") is None  # a lookahead: nothing this walk can vouch for
