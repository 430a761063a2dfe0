"""Perl semantics the pve-common/access/cluster validators rely on, for Python ``str`` values.

* Anchoring: ``m/^...$/`` also matches when the value ends in one ``"\\n"`` (Perl's ``$``), while
  ``m/^...\\z/`` does not. :class:`PerlRe` takes the anchor as a flag; every format states which
  one its source uses.
* ``\\s``/``\\S``: Perl's whitespace set differs from Python's (``\\x1c``-``\\x1f`` are not space
  to Perl), so patterns use :data:`S` / :data:`NS` instead.
* ``\\w``: Perl's Unicode word class includes marks and connector punctuation and excludes
  ``No`` digits; :func:`word_view` maps a value so that an ASCII-only pattern can test it.
* Numbers: a digit string matched by ``\\d`` may hold non-ASCII digits, which Perl numifies
  to ``0``; :func:`num` reproduces that.
"""

from __future__ import annotations

import re
import unicodedata

_SPACE = "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
S = f"[{_SPACE}]"
"""Perl ``\\s`` (Unicode rules) as a Python character class."""
NS = f"[^{_SPACE}]"
"""Perl ``\\S`` (Unicode rules) as a Python character class."""

_SPACE_CHARS = frozenset("\t\n\x0b\x0c\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000") | frozenset(
    chr(c) for c in range(0x2000, 0x200B)
)

WORD_MARK = "\x01"
"""Stand-in for a non-ASCII Perl word character in :func:`word_view` output."""

_WORD_CATEGORIES = frozenset({"Lu", "Ll", "Lt", "Lm", "Lo", "Nl", "Nd", "Mn", "Mc", "Me", "Pc"})
# Other_Alphabetic symbols (circled/squared Latin letters) are \w to Perl although they are `So`.
_ALPHABETIC_SYMBOLS = ((0x24B6, 0x24E9), (0x1F130, 0x1F149), (0x1F150, 0x1F169), (0x1F170, 0x1F189))


class PerlRe:
    """A pattern applied like Perl's ``$value =~ m/^BODY$/`` (``dollar=True``) or ``m/^BODY\\z/``."""

    __slots__ = ("_dollar", "_re")

    def __init__(self, body: str, *, dollar: bool, ignorecase: bool = False, ascii: bool = False) -> None:
        flags = (re.IGNORECASE if ignorecase else 0) | (re.ASCII if ascii else 0)
        self._re = re.compile(f"(?:{body})", flags)
        self._dollar = dollar

    def match(self, value: str) -> re.Match[str] | None:
        found = self._re.fullmatch(value)
        if found is None and self._dollar and value.endswith("\n"):
            found = self._re.fullmatch(value, 0, len(value) - 1)
        return found

    def __call__(self, value: str) -> bool:
        return self.match(value) is not None


def is_word_char(char: str) -> bool:
    """Whether Perl's Unicode ``\\w`` matches ``char``."""
    if char.isascii():
        return char.isalnum() or char == "_"
    if unicodedata.category(char) in _WORD_CATEGORIES or char in "\u200c\u200d":
        return True
    code = ord(char)
    return any(lo <= code <= hi for lo, hi in _ALPHABETIC_SYMBOLS)


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
    start, end = 0, len(value)
    while start < end and value[start] in _SPACE_CHARS:
        start += 1
    while end > start and value[end - 1] in _SPACE_CHARS:
        end -= 1
    return value[start:end]


def num(digits: str) -> int | float:
    """Perl's numeric value of a string that ``\\d+`` matched (non-ASCII digits count as 0)."""
    end = 0
    while end < len(digits) and "0" <= digits[end] <= "9":
        end += 1
    value = int(digits[:end]) if end else 0
    return value if value < 2**64 else float(value)


def truthy(value: str) -> bool:
    """Perl truthiness of a defined string."""
    return value not in ("", "0")


def split_list(text: str) -> list[str]:
    """``PVE::ParseUtils::split_list``: NUL-separated if a NUL is present, else ``,;`` and spaces."""
    if "\0" in text:
        return split(text, "\0")
    text = re.sub(rf"^{S}+", "", re.sub(r"[,;]", " ", text))
    parts = re.split(f"{S}+", text) if text else []
    while parts and parts[-1] == "":
        parts.pop()
    return parts


def split(text: str, sep: str) -> list[str]:
    """Perl ``split(/SEP/, $text)`` for a literal one-character separator (trailing empties dropped)."""
    if text == "":
        return []
    parts = text.split(sep)
    while parts and parts[-1] == "":
        parts.pop()
    return parts
