"""Schema ``pattern``s applied as PVE applies them, in time linear in the value's length.

PVE checks ``$value =~ m/^$pattern$/``: the pattern is pasted in without a group, so a top-level
alternation is anchored on one side only (``^A|B$``), and Perl's ``$`` also matches before a final
``"\\n"``. A backtracking engine can take exponential (``[a-z]+(?:[-]*[a-z]+)*``) or quadratic
(``^A|B$``, retried at every offset) time on a hostile value, on the event loop. So every pattern is
matched by RE2, whose time is linear, written out with Perl's meaning (:mod:`._re2syntax`). The few RE2
cannot say (atomic groups, counts over 1000, lookarounds...) use Python's ``re`` where the pattern's
shape proves backtracking bounded (:mod:`._backtrack`); any other is logged at load as unproven.
"""

from __future__ import annotations

import logging
import re
import re._parser as sre_parse  # type: ignore[import-not-found]  # no stubs; re.compile's own reader
from functools import lru_cache
from typing import Any, Literal

import re2

from ._backtrack import linear
from ._re2syntax import to_re2

log = logging.getLogger(__name__)

Engine = Literal["re2", "backtracking", "unproven"]

# Perl's \h (horizontal space) under Unicode rules, as literal characters
_PERL_HSPACE = "\t \xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + "\u202f\u205f\u3000"
_SURROGATE = re.compile("[\ud800-\udfff]")
_QR_WRAPPER = re.compile(r"\(\?\^([a-z]*):")  # Perl's stringified qr//: (?^:...), (?^i:...), (?^u:...)
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.never_capture = True  # only whether it matches is asked
_RE2_OPTIONS.log_errors = False  # a pattern RE2 refuses is expected: it goes to the other engine


def python_syntax(pattern: str) -> str:
    """A Perl regex as Python's ``re`` reads it with the same meaning.

    Stringified ``qr//`` groups ``(?^i:`` reset the other flags (``(?i-msx:``); Perl's ``\\z`` is
    Python's ``\\Z`` and Perl's ``\\Z`` (end or before a final newline) is Python's ``$``; ``\\h``
    is spelled out. Escapes and character classes are stepped over as units, so ``\\\\z`` or
    ``[\\h]`` are read right.
    """
    out: list[str] = []
    index, length, class_opened = 0, len(pattern), -1
    while index < length:
        char = pattern[index]
        in_class = class_opened >= 0
        if char == "\\" and index + 1 < length:
            escape = pattern[index + 1]
            if escape == "h":
                out.append(_PERL_HSPACE if in_class else f"[{_PERL_HSPACE}]")
            elif escape == "z" and not in_class:
                out.append(r"\Z")
            elif escape == "Z" and not in_class:
                out.append("$")
            else:
                out.append(pattern[index:index + 2])
            index += 2
            continue
        if in_class:
            # a ']' first in the class (after an optional '^') is a literal
            if char == "]" and index > class_opened + 1 + (pattern[class_opened + 1] == "^"):
                class_opened = -1
        elif char == "[":
            class_opened = index
        elif char == "(":
            wrapper = _QR_WRAPPER.match(pattern, index)
            if wrapper is not None:
                on = "".join(f for f in wrapper.group(1) if f in "imsx")
                off = "".join(f for f in "imsx" if f not in on)
                out.append(f"(?{on}-{off}:" if off else f"(?{on}:")
                index = wrapper.end()
                continue
        out.append(char)
        index += 1
    return "".join(out)


class AnchoredPattern:
    """One schema pattern, compiled once, applied as ``m/^PATTERN$/``."""

    __slots__ = ("_backtracking", "_re2", "engine", "source")

    def __init__(self, source: str) -> None:
        self.source = source
        text = "^" + python_syntax(source) + "$"
        self._backtracking = re.compile(text)  # also what refuses a pattern Perl would not take either
        self._re2: Any = None
        parsed = sre_parse.parse(text)
        written = to_re2(parsed, parsed.state.flags)
        if written is not None:
            try:
                self._re2 = re2.compile(written, _RE2_OPTIONS)
            except re2.error:
                self._re2 = None  # over RE2's memory budget: left to the proof below
        self.engine: Engine = "re2" if self._re2 is not None else "backtracking" if linear(parsed) else "unproven"
        if self.engine == "unproven":
            log.warning("schema pattern %r is matched by a backtracking engine without a time bound", source)

    def matches(self, text: str) -> bool:
        if self._re2 is None:
            return self._backtracking.search(text) is not None
        try:
            data = text.encode()
        except UnicodeEncodeError:
            # a lone surrogate has no UTF-8; U+FFFD is in the same Perl classes (not \w, \s or \d;
            # matched by '.' and negated classes), so the answer is Perl's
            data = _SURROGATE.sub("\ufffd", text).encode()
        return self._re2.search(data) is not None

    def __repr__(self) -> str:
        return f"AnchoredPattern({self.source!r}, engine={self.engine!r})"


@lru_cache(maxsize=4096)
def compile_anchored(pattern: str) -> AnchoredPattern:
    """``m/^$pattern$/`` exactly as Perl applies it: no grouping, so alternations are half anchored."""
    return AnchoredPattern(pattern)
