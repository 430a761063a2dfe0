"""Shared helpers of the format tests: PVE's die text of a check, and the valid/invalid case tests.

The assertions here carry their own messages: pytest rewrites asserts only in test modules.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import pytest

from pvegateway.schema.formats import CodeFormat, FormatError

Valid = Sequence[tuple[str, str]]
"""``(format name, value)`` pairs PVE accepts."""
Invalid = Sequence[tuple[str, str, str]]
"""``(format name, value, die text)`` triples PVE rejects."""


def error_text(check: Callable[[str], object], value: str) -> str | None:
    """What ``check`` dies with for ``value`` (PVE's text), or None if it accepts the value."""
    try:
        check(value)
    except FormatError as err:
        return err.text
    return None


def errors_of(formats: Mapping[str, CodeFormat]) -> Callable[[str, str], str | None]:
    """``error_of(name, value)``: :func:`error_text` of the format registered as ``name``."""

    def error_of(name: str, value: str) -> str | None:
        return error_text(formats[name], value)

    return error_of


def value_tests(
    formats: Mapping[str, CodeFormat], valid: Valid, invalid: Invalid
) -> tuple[Callable[[str, str], None], Callable[[str, str, str], None]]:
    """The two parametrized tests of a family module; assign them to ``test_*`` names to collect them."""
    error_of = errors_of(formats)

    @pytest.mark.parametrize(("name", "value"), valid)
    def test_valid_values_pass(name: str, value: str) -> None:
        got = error_of(name, value)
        assert got is None, f"{name} rejects {value!r}: {got!r}"

    @pytest.mark.parametrize(("name", "value", "text"), invalid)
    def test_invalid_values_fail_with_pve_text(name: str, value: str, text: str) -> None:
        got = error_of(name, value)
        assert got == text, f"{name} on {value!r} dies with {got!r}, PVE with {text!r}"

    return test_valid_values_pass, test_invalid_values_fail_with_pve_text
