"""Hypothesis: whatever a client sends, a format check answers with PVE's 400 or lets the value pass.

Every request value that names a format runs through its checker, so an exception of any other
type (a ``ValueError`` from ``int()`` on 5,000 digits, a ``UnicodeEncodeError`` on a lone
surrogate) would turn a client's typo into a 500, and a regex that backtracks would stall a worker.
Each registered format, with its ``-list`` and ``-opt`` variants and the named property-string
formats, is reached the way requests reach it: through a :class:`ParamValidator`. Examples are
derandomized (CI runs the same ones every time) and each one is time-bounded with ``SIGALRM``,
which interrupts even a regex match.
"""

from __future__ import annotations

import contextlib
import re
import signal
from collections.abc import Iterator
from functools import cache
from types import FrameType

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from pvegateway.errors import PARAM_FAILED, PVEError
from pvegateway.schema.formats.registry import CODE_FORMATS, HASH_FORMATS
from pvegateway.schema.perl import split_list, truthy
from pvegateway.schema.validate import ParamValidator

SECONDS_PER_EXAMPLE = 2.0
"""A format check of one value (up to ~100 KB) takes milliseconds; anything near this is backtracking."""

BASE_FORMATS = sorted([*CODE_FORMATS, *HASH_FORMATS])
ALL_FORMATS = [f"{name}{suffix}" for name in BASE_FORMATS for suffix in ("", "-list", "-opt")]

# --- hostile values ---------------------------------------------------------------------------------

ODD = [
    "\x00", "\u200f", "\u202e", "\u0301", "e\u0301", "\ud800", "\udfff", "\ufeff", "\uffff", "\U0010ffff",
    "\u0661\u0662", "\U0001d7d9", "\u00df", "\u0130", "\u2028", "\x85", "\xa0", "\n", "\r\n", "\t", " ", "\x7f",
]  # fmt: skip
NUMBERS = [
    "1e999", "-1e-999", "NaN", "nan", "inf", "-Infinity", "Inf", "0x1f", "0o7", "0b1", "1_000", "9" * 5000,
    "0" * 5000, "1e+308", "4294967296", "18446744073709551616", "-0", "+1", ".5", "5.", "1e", "1E-7",
]  # fmt: skip
TOKENS = [
    ":", "/", ",", ";", "=", "@", "!", ".", "-", "_", "[", "]", "%", "*", "~", "..", "::", "0", "1", "255", "256",
    "a", "Z", "vmbr0", "local", "192.168.0.1", "fe80::1", "/24", "k", "M", "G", "mon", "{", "}", '"', "\\", "'",
    "-----BEGIN CERTIFICATE-----", "$", "^", "(", ")", "?", "+", "|",
]  # fmt: skip
PIECES = ODD + NUMBERS + TOKENS

any_char = st.characters(codec=None, exclude_categories=())  # surrogates (Cs) included
piece = st.sampled_from(PIECES) | st.text(any_char, max_size=6)
structured = st.lists(piece, max_size=12).map("".join)
"""Values built from the characters formats care about: they get past the first test of a checker."""
raw_bytes = st.binary(max_size=80).flatmap(
    lambda data: st.sampled_from([data.decode("latin-1"), data.decode("utf-8", "surrogateescape")])
)
huge = st.tuples(st.sampled_from(PIECES), st.integers(1_000, 100_000), structured).map(
    lambda t: (t[0] * (t[1] // max(1, len(t[0]))))[:100_000] + t[2]
)
"""Up to ~100 KB: a run of one piece (the usual shape of a backtracking trigger), then a tail."""
hostile = st.one_of(structured, raw_bytes, huge, st.text(any_char, max_size=40))

FIXED = [
    "", *PIECES, "a" * 100_000, "1" * 100_000 + "!", "," * 20_000, "a=b," * 5_000, "::" * 10_000 + "x",
    "1.1.1.1/" + "9" * 100, "[::1]:99999999999999999999", "a@b" * 7_000, "%ff%" * 5_000, "*/" * 10_000,
    "1-" * 10_000, "a:" * 10_000, "../" * 7_000, "[" * 10_000 + "]" * 10_000, "9" * 400 + "e9", "ZZ" * 10_000,
    "-----BEGIN CERTIFICATE-----\n" + "A" * 90_000 + "\n-----END CERTIFICATE-----\n", "vmbr0\x00vmbr1",
]  # fmt: skip
"""Known shapes of trouble, checked against every format without sampling. Runs of 20 KB are enough
to expose a quadratic (or worse) regex within the time bound; two values reach 100 KB."""

FAST = settings(
    derandomize=True,
    phases=[Phase.explicit, Phase.generate, Phase.shrink],  # no 'explain': it reruns a failure for minutes
    database=None,
    deadline=None,  # the hard bound is SIGALRM below; a wall-clock deadline would make CI flaky
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)

# --- checking ---------------------------------------------------------------------------------------


class TooSlow(AssertionError):
    pass


@contextlib.contextmanager
def time_bound(seconds: float = SECONDS_PER_EXAMPLE) -> Iterator[None]:
    """Fail (instead of hanging) when the block runs longer than ``seconds``."""

    def expire(_signum: int, _frame: FrameType | None) -> None:
        raise TooSlow(f"a check took longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@cache
def single(fmt: str) -> ParamValidator:
    """A validator of one optional string parameter ``p`` with format ``fmt``."""
    return ParamValidator({"additionalProperties": 0, "properties": {"p": {"type": "string", "format": fmt,
                                                                             "optional": 1}}})


def answer(validator: ParamValidator, params: dict[str, object]) -> PVEError | None:
    """The validator's verdict: None when the parameters pass, else its PVE error (nothing else escapes)."""
    with time_bound():
        try:
            validator.validate(params)
        except PVEError as err:
            assert_param_error(err)
            return err
    return None


def assert_param_error(err: PVEError) -> None:
    assert err.status == 400, err
    assert err.message == PARAM_FAILED, err
    assert err.errors, f"a 400 without its errors map: {err!r}"
    for key, text in err.errors.items():
        assert isinstance(key, str) and isinstance(text, str), err


def format_error(fmt: str, value: str) -> str | None:
    """The ``errors`` text PVE answers for ``p=value`` under ``fmt`` (None: accepted)."""
    err = answer(single(fmt), {"p": value})
    if err is None:
        return None
    assert err.errors is not None and set(err.errors) == {"p"}, err
    return err.errors["p"]


# --- tests ------------------------------------------------------------------------------------------


def test_every_format_answers_known_trouble_with_a_pve_error() -> None:
    """Each of the 339 format names against each fixed hostile value: a 400 or a pass, in time.

    ``-opt`` checks a truthy value exactly as the plain format does (asserted below), so the
    100 KB values skip it.
    """
    for fmt in ALL_FORMATS:
        for value in FIXED:
            if len(value) > 10_000 and fmt.endswith("-opt"):
                continue
            text = format_error(fmt, value)
            assert text is None or text.startswith("invalid format - "), (fmt, value[:40], text)


@pytest.mark.parametrize("base", BASE_FORMATS)
@settings(FAST, max_examples=16)
@given(value=hostile, suffix=st.sampled_from(["", "-list", "-opt"]))
def test_hostile_values_get_a_pve_answer(base: str, suffix: str, value: str) -> None:
    text = format_error(base + suffix, value)
    assert text is None or text.startswith("invalid format - "), text


@pytest.mark.parametrize("base", sorted(CODE_FORMATS))
@settings(FAST, max_examples=10)
@given(value=structured)
def test_variants_agree_with_the_plain_format(base: str, value: str) -> None:
    """``-opt`` skips falsy values and checks the rest alike; ``-list`` of one item checks that item."""
    plain = format_error(base, value)
    opt = format_error(f"{base}-opt", value)
    assert opt == (plain if truthy(value) else None)
    if split_list(value) == [value]:
        assert format_error(f"{base}-list", value) == plain


@pytest.mark.parametrize("base", sorted(HASH_FORMATS))
def test_hash_format_variants_are_refused_as_pve_refuses_them(base: str) -> None:
    """``-list``/``-opt`` of a property-string format is a schema error PVE reports for any value."""
    for suffix in ("list", "opt"):
        refused = f"invalid format - '-{suffix}' format must have code ref, not hash\n"
        assert format_error(f"{base}-{suffix}", "x") == refused


@settings(FAST, max_examples=300)
@given(fmt=st.sampled_from(ALL_FORMATS), value=hostile)
def test_the_same_value_gets_the_same_answer_twice(fmt: str, value: str) -> None:
    """Property strings that passed are cached; a cached answer must be the one a fresh check gives."""
    assert format_error(fmt, value) == format_error(fmt, value)


def test_huge_digit_runs_fail_as_pve_fails_them() -> None:
    """Regression: ``int()`` refuses 4,300+ digits; these three formats raised ValueError (a 500)."""
    for fmt, value, text in [
        ("pve-storage-zfs-blocksize", "0" * 5000, "value '" + "0" * 5000 + "' is not a valid ZFS blocksize."),
        ("pve-storage-zfs-blocksize", "9" * 5000 + "k", "value '" + "9" * 5000 + "k' is not a valid ZFS blocksize."),
        ("pve-calendar-event", "9" * 5000, "invalid calendar event '" + "9" * 5000 + "'"),
        ("pve-command-batch", "[" + "9" * 5000 + "]", "commands is not a valid array of commands"),
    ]:
        got = format_error(fmt, value)
        assert got is not None and got.startswith("invalid format - " + text), (fmt, got and got[:200])
    # leading zeros do not make a number big: 0...01024 is 1024 for u32 parsing and ZFS alike
    assert format_error("pve-storage-zfs-blocksize", "0" * 5000 + "4k") is None


def test_the_time_bound_interrupts_a_backtracking_regex() -> None:
    """The guard above is real: SIGALRM stops a catastrophic match instead of letting CI hang."""
    with pytest.raises(TooSlow), time_bound(0.2):
        re.match(r"^(a+)+$", "a" * 64 + "!")
