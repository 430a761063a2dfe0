"""Perl semantics the PVE validator relies on, reproduced for Python values.

Parameter values reach the validator as PVE's do: strings (form and query values, JSON scalars
already stringified), ``list`` (Perl ARRAY), ``dict`` (HASH), ``bool`` (JSON::PP::Boolean) or ``None``
(undef: absent).
"""

from __future__ import annotations

import math
import re
from typing import Any

# Perl's \s under Unicode rules, as literal characters (none is special inside a class).
PERL_SPACE = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + "\u2028\u2029\u202f\u205f\u3000"
)
S = f"[{PERL_SPACE}]"
# Perl's Unicode \w: letters, marks, Nd and Nl digits, connector punctuation, the two join controls,
# and the Other_Alphabetic symbols (circled/squared Latin letters) although they are `So`.
PERL_WORD_CATEGORIES = frozenset({"Lu", "Ll", "Lt", "Lm", "Lo", "Nl", "Nd", "Mn", "Mc", "Me", "Pc"})
PERL_WORD_EXTRA = "\u200c\u200d"
PERL_WORD_SYMBOLS = ((0x24B6, 0x24E9), (0x1F130, 0x1F149), (0x1F150, 0x1F169), (0x1F170, 0x1F189))
# the same set as the contents of an RE2 character class
PERL_WORD_CLASS = r"\p{L}\p{M}\p{Nl}\p{Nd}\p{Pc}\x{200c}\x{200d}" + "".join(
    f"\\x{{{lo:x}}}-\\x{{{hi:x}}}" for lo, hi in PERL_WORD_SYMBOLS
)
NS = f"[^{PERL_SPACE}]"
_LIST_SEPARATOR = re.compile(r"[,;]")
_LEADING_SPACE = re.compile(f"^{S}+")
_SPACES = re.compile(f"{S}+")
_IS_NUMBER = re.compile(r"^[+-]?(\d+\.\d+|\d+\.|\.\d+|\d+)([eE][+-]?\d+)?$")
_IS_INTEGER = re.compile(r"^[+-]?\d+$")


def perl_str(value: Any) -> str:
    """The string Perl would print for a JSON scalar (numbers as with ``%.15g``)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "1" if value else ""
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return perl_number(value)
    return str(value)


def perl_number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Inf" if value > 0 else "-Inf"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    text = f"{value:.15g}"
    if "e" in text:
        mantissa, exp = text.split("e")
        sign = exp[0] if exp[0] in "+-" else "+"
        digits = exp.lstrip("+-").lstrip("0").rjust(2, "0")
        text = f"{mantissa}e{sign}{digits}"
    return text


def truthy(value: Any) -> bool:
    """Perl truthiness: undef, "", "0" and 0 are false."""
    if value is None:
        return False
    if isinstance(value, str):
        return value not in ("", "0")
    if isinstance(value, bool | int | float):
        return bool(value)
    return True


def is_number(text: str) -> bool:
    """Like Perl, ``$`` also matches before a final newline, so ``"12\n"`` is a number."""
    return _IS_NUMBER.match(text) is not None


def is_integer(text: str) -> bool:
    return _IS_INTEGER.match(text) is not None


def to_number(text: str) -> float:
    return float(text)


def ref_name(value: Any) -> str | None:
    """Perl's ``ref()`` of a decoded parameter value, or None for a plain scalar."""
    if isinstance(value, bool):
        return "JSON::PP::Boolean"
    if isinstance(value, list):
        return "ARRAY"
    if isinstance(value, dict):
        return "HASH"
    return None


def split_list(text: str) -> list[str]:
    """``PVE::Tools::split_list``: on NUL if one is present, else on ``,`` ``;`` and Perl whitespace.

    Like Perl's ``split``, leading and inner empty fields stay (and are then checked, and fail) while
    trailing ones are dropped.
    """
    if "\0" in text:
        return split(text, "\0")
    text = _LEADING_SPACE.sub("", _LIST_SEPARATOR.sub(" ", text))
    return [] if text == "" else _drop_trailing_empty(_SPACES.split(text))


def split(text: str, sep: str) -> list[str]:
    """Perl ``split(/SEP/, $text)`` for a literal separator (trailing empty fields dropped)."""
    return [] if text == "" else _drop_trailing_empty(text.split(sep))


def _drop_trailing_empty(parts: list[str]) -> list[str]:
    while parts and parts[-1] == "":
        parts.pop()
    return parts
