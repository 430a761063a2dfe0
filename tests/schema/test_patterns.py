"""Schema ``pattern``s keep PVE's meaning and are matched in linear time.

PVE checks ``$value !~ m/^$pattern$/`` (pve-common src/PVE/JSONSchema.pm:1636-1638): the pattern is
pasted in without a group, Perl's ``$`` also matches before a final newline, and PVE's values are
decoded (Unicode) strings, so ``\\s``, ``\\w`` and ``\\d`` are Perl's Unicode classes.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterator, Mapping
from functools import cache
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pvegateway.apidoc.sources import load_tree, resolve
from pvegateway.schema.formats.registry import HASH_FORMATS
from pvegateway.schema.perlre import compile_anchored, python_syntax
from tests.schema.test_formats_hypothesis import FAST, time_bound

TREES = ("9.2", "9.1.11")
PCI_ID_OR_MAPPING = r"(?:(?:[0-9a-fA-F]{4}:)?[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-9a-fA-F])|([a-zA-Z][a-zA-Z0-9_-]+)"
OCI_REFERENCE = (  # GET /nodes/{node}/query-oci-repo-tags reference (PVE 9.2)
    r"^(?:(?:[a-zA-Z\d]|[a-zA-Z\d][a-zA-Z\d-]*[a-zA-Z\d])(?:\.(?:[a-zA-Z\d]|[a-zA-Z\d][a-zA-Z\d-]*[a-zA-Z\d]))*"
    r"(?::\d+)?/)?[a-z\d]+(?:(?:[._]|__|[-]*)[a-z\d]+)*(?:/[a-z\d]+(?:(?:[._]|__|[-]*)[a-z\d]+)*)*$"
)


def _patterns(tree: Any) -> Iterator[str]:
    if isinstance(tree, Mapping):
        for key, value in tree.items():
            if key == "pattern" and isinstance(value, str):
                yield value
            else:
                yield from _patterns(value)
    elif isinstance(tree, list):
        for item in tree:
            yield from _patterns(item)


@cache
def all_patterns() -> tuple[str, ...]:
    """Every distinct ``pattern`` of both apidoc trees (parameters, returns, property-string keys) and
    of the property-string formats the gateway defines itself."""
    trees = {p for name in TREES for p in _patterns(load_tree(resolve(name)))}
    return tuple(sorted(trees | set(_patterns(dict(HASH_FORMATS)))))


def matches(pattern: str, value: str) -> bool:
    return compile_anchored(pattern).matches(value)


# --- Perl's meaning ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "expected"), [
    ("0000:01:00.0", True),
    ("01:00.0", True),
    ("mapping1", True),
    ("01:00.0 anything after the first branch", True),  # ^A| anchors A at the start only
    ("anything before the second branch: mapping1", True),  # |B$ anchors B at the end only
    ("01:00.0x!", True),
    ("!mapping1!", False),
    ("::", False),
])
def test_top_level_alternations_are_half_anchored_as_in_perl(value: str, expected: bool) -> None:
    assert matches(PCI_ID_OR_MAPPING, value) is expected


@pytest.mark.parametrize(("pattern", "value", "expected"), [
    (r"\S+", "abc\n", True),  # Perl's $ before a final newline
    (r"\S+", "abc\n\n", False),
    (r"\S+", "\nabc", False),
    (r"[a-z]+\z", "abc\n", False),  # \z is the very end
    (r"[a-z]+\z", "abc", True),
    (r"[a-z]+\Z", "abc\n", True),  # Perl's \Z is $
    (r"(?^:^[a-z]+$)", "abc\n", True),  # a stringified qr// with its own anchors, inside PVE's
    (r"(?^:^[a-z]+$)", "abc\nd", False),
    (r"[a-z]+$|\d+", "abc\n", True),
    (r"x|[a-z]+", "x\n", True),
    (r"[\n]+", "\n", True),
    (r"a[$]", "a$", True),  # a $ inside a class is a character
    (r"a[$]", "a\n", False),
])
def test_dollar_is_perls(pattern: str, value: str, expected: bool) -> None:
    assert matches(pattern, value) is expected


@pytest.mark.parametrize(("pattern", "value", "expected"), [
    # pve-lxc-mount flags / fw macros: (?^i:...) is case-insensitive, and (?^:...) resets it
    (r"(?^i:[a-z0-9_][a-z0-9_\-\+\.]*)(?:;(?^i:[a-z0-9_][a-z0-9_\-\+\.]*))*", "ABC;dEf", True),
    (r"(?^i:[a-z0-9_][a-z0-9_\-\+\.]*)(?:;(?^i:[a-z0-9_][a-z0-9_\-\+\.]*))*", "ABC;;", False),
    (r"(?^i:x(?^:[a-z]+))", "Xab", True),
    (r"(?^i:x(?^:[a-z]+))", "XAB", False),
    (r"(?^i:k)", "\u212a", True),  # KELVIN SIGN folds to k under Unicode rules
])
def test_qr_wrappers_keep_their_flags(pattern: str, value: str, expected: bool) -> None:
    assert matches(pattern, value) is expected


@pytest.mark.parametrize(("pattern", "value", "expected"), [
    (r"\s", "\x1f", False),  # Python's str.isspace says yes; Perl's \s does not
    (r"\s", "\x0b", True),
    (r"\s", "\u2003", True),
    (r"\S+", "a\xa0", False),
    (r"\w+", "\u00b2", False),  # SUPERSCRIPT TWO is No: \w to Python, not to Perl
    (r"\w+", "e\u0301", True),  # a combining mark is \w to Perl
    (r"\w+", "\u24b6", True),  # CIRCLED LATIN CAPITAL A: Other_Alphabetic
    (r"[-_.\w\d]+", "caf\u00e9-1", True),
    (r"\d+", "\u0663", True),  # Perl's Unicode \d is Nd
    (r"[A-Za-z0-9\-_\s]{,16}", "a" * 16, True),  # {,n} is {0,n} since Perl 5.34
    (r"[A-Za-z0-9\-_\s]{,16}", "a" * 17, False),
    (r"[A-Za-z0-9\-_\s]{,16}", "", True),
    (r"(?^:(?:\w+=[^\x00-\x08\x0a-\x1F\x7F]*)(?:\0\w+=[^\x00-\x08\x0a-\x1F\x7F]*)*)", "a=1\0b=2", True),
    (r"(?^:[^\s:/]+)", "a b", False),
])
def test_classes_are_perls_unicode_classes(pattern: str, value: str, expected: bool) -> None:
    assert matches(pattern, value) is expected


def test_a_lone_surrogate_is_a_character_as_in_perl() -> None:
    assert matches(r"\S+", "\ud800") is True
    assert matches(r".*", "a\udfffb") is True
    assert matches(r"\w+", "a\udfffb") is False


# --- engines -----------------------------------------------------------------------------------------

BACKTRACKING = {  # the patterns RE2 cannot take; each is proven linear from its shape
    r"(?^:^((?>[+-]?[\w\-\._=]+,?)+)$)",  # atomic group
    r"(?^u:^((?>[+-]?[\w\-\._=]+,?)+)$)",
    r"[0-9a-zA-Z!=]{0,4096}",  # a count over RE2's 1000
}


def test_every_pattern_has_a_linear_engine() -> None:
    engines = {p: compile_anchored(p).engine for p in all_patterns()}
    assert {p for p, e in engines.items() if e != "re2"} == BACKTRACKING
    assert {engines[p] for p in BACKTRACKING} == {"backtracking"}


@pytest.mark.parametrize("pattern", [
    r"(a|aa)\1", r"a+(?=b)", r"(?:a{0,2000})*", r"(?>a+|b)+c", r"x*(?>a+)b",
])
def test_a_pattern_neither_engine_can_bound_is_reported(pattern: str, caplog: pytest.LogCaptureFixture) -> None:
    compiled = compile_anchored.__wrapped__(pattern)
    assert compiled.engine == "unproven"
    assert "without a time bound" in caplog.text


def test_re2_takes_the_classic_exponential_shape() -> None:
    assert compile_anchored(r"(a+)+b").engine == "re2"


# --- the same answers as a backtracking engine, on values both dialects read alike --------------------

ASCII_MEANING = {  # Perl and Python agree on \s \w \d for ASCII values
    p: re.compile("^" + python_syntax(p) + "$", re.ASCII) for p in all_patterns()
}
ASCII = st.characters(codec="ascii")
_near = st.sampled_from(["", "\n", "\n\n", "!", " ", "-", ";", ",", ":", "a", "A", "0", "."])


@pytest.mark.parametrize("pattern", all_patterns())
@settings(FAST, max_examples=25)
@given(data=st.data())
def test_re2_answers_as_perl_would(pattern: str, data: st.DataObject) -> None:
    """Drawn matches, cut, extended and edited: RE2's answer is the backtracking engine's on ASCII.

    Values stay short: the backtracking engine is the oracle here, and it is exponential on some.
    """
    drawn = data.draw(st.from_regex(ASCII_MEANING[pattern], fullmatch=True, alphabet=ASCII).map(lambda v: v[:16]))
    cut = data.draw(st.integers(0, len(drawn)))
    value = data.draw(st.sampled_from([drawn, drawn[:cut], drawn[cut:]])) + data.draw(_near)
    value = data.draw(_near) + value if data.draw(st.booleans()) else value
    assert matches(pattern, value) is (ASCII_MEANING[pattern].search(value) is not None), repr(value)


# --- linear time --------------------------------------------------------------------------------------

SECONDS_PER_CHECK = 1.0  # linear: ~0.05 s here; quadratic or worse took seconds to hours
"""Generous for one 100 KB check (RE2 takes well under a millisecond); a backtracking blow-up does not fit."""
LENGTH = 100_000
MISMATCH = ["!", "\x00", "\n\n", " ", "\u00b2", "A", "-", "/", ";", "::"]


def alphabet(pattern: str) -> str:
    """Characters the pattern names: what a hostile value repeats to get deep into its repeats."""
    named = {c for c in python_syntax(pattern) if c in string.printable and c not in "\\^$()[]{}|?*+\t\n\r\x0b\x0c"}
    return "".join(sorted(named | set("aZ09-_.:;,/ ")))


@pytest.mark.parametrize("pattern", all_patterns())
@settings(FAST, max_examples=12)
@given(data=st.data())
def test_hostile_values_are_checked_in_linear_time(pattern: str, data: st.DataObject) -> None:
    """Long runs of the pattern's own characters or of a matching value, then a character that fails."""
    unit = data.draw(st.one_of(
        st.text(st.sampled_from(alphabet(pattern)), min_size=1, max_size=4),
        st.from_regex(ASCII_MEANING[pattern], fullmatch=True, alphabet=ASCII).filter(lambda v: 0 < len(v) < 200),
    ))
    tail = data.draw(st.sampled_from(MISMATCH))
    value = (unit * (LENGTH // len(unit) + 1))[:LENGTH] + tail
    with time_bound(SECONDS_PER_CHECK):
        matches(pattern, value)


@pytest.mark.parametrize(("pattern", "value"), [
    (OCI_REFERENCE, "a" * 26 + "!"),  # exponential in Python's re: ~10 s for 26 characters
    (OCI_REFERENCE, "a" * LENGTH + "!"),
    (OCI_REFERENCE, "a-" * (LENGTH // 2) + "!"),
    (PCI_ID_OR_MAPPING, "a" * 60_000 + ";"),  # quadratic: 24 s when retried at every offset
    (r"(?^:^((?>[+-]?[\w\-\._=]+,?)+)$)", "a," * (LENGTH // 2) + "!"),
    (r"[0-9a-zA-Z!=]{0,4096}", "a" * LENGTH + ";"),
])
def test_the_reviewed_triggers_are_answered_at_once(pattern: str, value: str) -> None:
    with time_bound(SECONDS_PER_CHECK):
        assert not matches(pattern, value)
