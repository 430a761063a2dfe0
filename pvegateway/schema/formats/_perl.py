"""Perl semantics the format validators rely on, for Python ``str`` values.

* Anchoring: ``m/^...$/`` also matches when the value ends in one ``"\\n"`` (Perl's ``$``), while
  ``m/^...\\z/`` does not. :class:`PerlRe` takes the anchor as a flag; every format states which
  one its source uses. (Python's own ``$`` behaves like Perl's, so modules that apply ``^...$``
  with ``re.match`` get Perl's ``$`` as well.)
* ``\\s``/``\\S``: Perl's whitespace set differs from Python's (``\\x1c``-``\\x1f`` are not space
  to Perl), so patterns use :data:`S` / :data:`NS` instead.
* ``\\w``: Perl's Unicode word class includes marks and connector punctuation and excludes
  ``No`` digits; :func:`word_view` maps a value so that an ASCII-only pattern can test it.
* Numbers: :func:`num` is Perl's numeric value of a string (``\\d`` may match non-ASCII digits,
  which Perl numifies to ``0``).
* Truthiness is :func:`pvegateway.schema.perl.truthy`, shared with the rest of the validator.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from collections.abc import Callable, Iterator
from typing import Any, NoReturn

from ..perl import NS as NS
from ..perl import PERL_SPACE as PERL_SPACE
from ..perl import PERL_WORD_CATEGORIES, PERL_WORD_EXTRA, PERL_WORD_SYMBOLS
from ..perl import S as S
from ..perl import split as split
from ..perl import split_list as split_list
from . import CodeFormat, FormatError

WORD_MARK = "\x01"
"""Stand-in for a non-ASCII Perl word character in :func:`word_view` output."""


# Perl's string-to-number conversion skips ASCII white space only, and reads ASCII digits only.
_NUMBER = re.compile(r"[\t\n\x0b\x0c\r ]*([+-]?)([0-9]*)(?:\.([0-9]*))?", re.ASCII)
_EXPONENT = re.compile(r"[eE][+-]?[0-9]+", re.ASCII)


class PerlRe:
    """A pattern applied like Perl's ``$value =~ m/^BODY$/`` (``dollar=True``) or ``m/^BODY\\z/``."""

    __slots__ = ("_body", "_dollar", "_flags", "_re")

    def __init__(self, body: str, *, dollar: bool, ignorecase: bool = False, ascii: bool = False) -> None:
        # compiled on first use: the formats' patterns, most never used by a run, would slow every start
        self._body = f"(?:{body})"
        self._flags = (re.IGNORECASE if ignorecase else 0) | (re.ASCII if ascii else 0)
        self._re: re.Pattern[str] | None = None
        self._dollar = dollar

    def match(self, value: str) -> re.Match[str] | None:
        pattern = self._re
        if pattern is None:
            pattern = self._re = re.compile(self._body, self._flags)
        found = pattern.fullmatch(value)
        if found is None and self._dollar and value.endswith("\n"):
            found = pattern.fullmatch(value, 0, len(value) - 1)
        return found

    def __call__(self, value: str) -> bool:
        return self.match(value) is not None


def is_word_char(char: str) -> bool:
    """Whether Perl's Unicode ``\\w`` matches ``char``."""
    if char.isascii():
        return char.isalnum() or char == "_"
    if unicodedata.category(char) in PERL_WORD_CATEGORIES or char in PERL_WORD_EXTRA:
        return True
    code = ord(char)
    return any(lo <= code <= hi for lo, hi in PERL_WORD_SYMBOLS)


def word_view(value: str) -> str:
    """Map non-ASCII characters so an ASCII pattern using ``[\\w\\x01]`` tests Perl's ``\\w``.

    Perl word characters become :data:`WORD_MARK`; other non-ASCII characters (and a literal
    ``\\x01``) become ``\\x02``, which no format pattern accepts.
    """
    if value.isascii() and WORD_MARK not in value:
        return value
    return "".join(
        c if c.isascii() and c != WORD_MARK else (WORD_MARK if is_word_char(c) else "\x02") for c in value
    )


def trim(value: str) -> str:
    """``PVE::Tools::trim``: strip Perl whitespace at both ends."""
    return value.strip(PERL_SPACE)


def num(value: str | float) -> int | float:
    """Perl's numeric value of a scalar: for a string, its leading decimal number, else 0.

    Integers are exact below 2**64 (Perl's IV/UV range); anything else is a float, so a huge
    digit string becomes ``inf`` as in Perl. Perl's ``Inf``/``NaN`` spellings are not read: every
    caller passes digits a pattern has matched or a value the integer type check accepted.
    """
    if not isinstance(value, str):
        return value  # a number as such (parsed property strings hold strings; direct callers may not)
    if value.isascii() and value.isdigit() and len(value) < 20:
        return int(value)  # the common case (under 2**64), without the regexes below
    found = _NUMBER.match(value)
    assert found is not None  # nosec B101 # narrowing: the pattern matches the empty string
    sign, whole, frac = found.groups()
    if not whole and not frac:
        return 0
    exponent = _EXPONENT.match(value, found.end())
    if frac is None and exponent is None and len(whole) <= 20:  # int() of a longer string may be refused
        integer = int(sign + whole)
        if -(2**63) <= integer < 2**64:
            return integer
    return float(f"{sign}{whole or '0'}.{frac or '0'}{exponent.group() if exponent else ''}")



# --- building code formats -------------------------------------------------------------------------


def fail(text: str) -> NoReturn:
    """Perl's ``die $text`` inside a format verifier."""
    raise FormatError(text)


def check_format(check: Callable[[str], object], message: str) -> CodeFormat:
    """A format that dies with ``message`` (``{value}`` replaced by the value) unless ``check(value)``."""
    return _verifier(check, message, "verify", _registering_module())


def regex_format(body: str, message: str, *, dollar: bool, ignorecase: bool = False) -> CodeFormat:
    """``die message if $value !~ m/^BODY$/`` (``dollar=True``) or ``m/^BODY\\z/``."""
    return _verifier(PerlRe(body, dollar=dollar, ignorecase=ignorecase), message, "check", _registering_module())


def _verifier(check: Callable[[str], object], message: str, name: str, module: str) -> CodeFormat:
    def verify(value: str) -> None:
        if not check(value):
            fail(message.format(value=value))

    # docs/FORMATS.md (inventory.implementation) names a format's code by its verifier's module and
    # name: attribute the verifier to the family module that registers it, not to this helper.
    verify.__module__ = module
    verify.__name__ = verify.__qualname__ = name
    return verify


def _registering_module() -> str:
    """The module that called :func:`check_format` / :func:`regex_format` (as namedtuple finds it)."""
    return str(sys._getframe(2).f_globals.get("__name__", __name__))


class LazyRe:
    """``re.compile`` deferred to first use: the format modules' patterns cost startup time otherwise."""

    __slots__ = ("_flags", "_pattern", "_re")

    def __init__(self, pattern: str, flags: int = 0) -> None:
        self._pattern = pattern
        self._flags = flags
        self._re: re.Pattern[str] | None = None

    @property
    def compiled(self) -> re.Pattern[str]:
        if self._re is None:
            self._re = re.compile(self._pattern, self._flags)
        return self._re

    def match(self, string: str, pos: int = 0, endpos: int = sys.maxsize) -> re.Match[str] | None:
        return self.compiled.match(string, pos, endpos)

    def fullmatch(self, string: str, pos: int = 0, endpos: int = sys.maxsize) -> re.Match[str] | None:
        return self.compiled.fullmatch(string, pos, endpos)

    def search(self, string: str, pos: int = 0, endpos: int = sys.maxsize) -> re.Match[str] | None:
        return self.compiled.search(string, pos, endpos)

    def sub(self, repl: Any, string: str, count: int = 0) -> str:
        return self.compiled.sub(repl, string, count)

    def split(self, string: str, maxsplit: int = 0) -> list[str | Any]:
        return self.compiled.split(string, maxsplit)

    def findall(self, string: str) -> list[Any]:
        return self.compiled.findall(string)

    def finditer(self, string: str) -> Iterator[re.Match[str]]:
        return self.compiled.finditer(string)

    @property
    def pattern(self) -> str:
        return self._pattern


def lazy_re(pattern: str, flags: int | re.RegexFlag = 0) -> LazyRe:
    return LazyRe(pattern, int(flags))
