"""A short string a schema ``pattern`` matches, read off the pattern itself.

The sample generator (:mod:`..backends.samples`) needs values that pass a ``pattern`` it knows nothing
else about (``[1-9][0-9]{2,8}-\\d{1,9}``, a fingerprint, a machine type). The pattern, as Python's ``re``
reads it with Perl's meaning (:func:`.perlre.python_syntax`), is walked: the first alternative of each
choice, a plain letter or digit from each class, each repeat taken once (or as often as its minimum).
The caller checks the result with :class:`.dialect.Pattern` as PVE would apply it: a pattern this walk
cannot read (a lookaround, a back reference to an empty group) gives None or a string that fails there.
"""

from __future__ import annotations

import re
import re._parser as sre_parse  # type: ignore[import-not-found]  # no stubs; re.compile's own reader
import string
from typing import Any

from .perlre import python_syntax

_C = sre_parse  # opcodes and categories live on the parser module's constants
# the characters tried for a class, in the order a reader finds plausible
_PREFERRED = string.ascii_lowercase + string.digits + string.ascii_uppercase + "-_.:/ =+@"
_MAX_LENGTH = 512


class _Unreadable(Exception):
    """A construct the walk does not turn into text."""


def example(pattern: str, repeat_once: bool = True) -> str | None:
    """A string matching ``pattern`` (anchored as PVE anchors it), or None when the walk cannot say.

    ``repeat_once``: an optional repeat (``?``, ``*``, ``{0,n}``) appears once; otherwise as seldom as
    it may (the shorter text, for a caller whose value must also be short)."""
    try:
        parsed = sre_parse.parse(python_syntax(pattern))
        text = _walk(parsed, repeat_once, {})
    except (_Unreadable, re.error, RecursionError, ValueError):
        return None
    return text if len(text) <= _MAX_LENGTH else None


def _walk(items: Any, once: bool, groups: dict[int, str]) -> str:
    out: list[str] = []
    for op, arg in items:
        out.append(_one(op, arg, once, groups))
    return "".join(out)


def _one(op: Any, arg: Any, once: bool, groups: dict[int, str]) -> str:
    if op is _C.LITERAL:
        return chr(arg)
    if op is _C.NOT_LITERAL:
        return _pick(lambda c: ord(c) != arg)
    if op is _C.ANY:
        return "a"
    if op is _C.IN:
        return _pick(lambda c: _in_class(arg, c))
    if op is _C.AT:
        return ""
    if op is _C.BRANCH:
        return _walk(arg[1][0], once, groups)
    if op is _C.SUBPATTERN:
        group, _add, _del, inner = arg
        text = _walk(inner, once, groups)
        if group is not None:
            groups[group] = text
        return text
    if op is _C.ATOMIC_GROUP:
        return _walk(arg, once, groups)
    if op in (_C.MAX_REPEAT, _C.MIN_REPEAT, _C.POSSESSIVE_REPEAT):
        low, high, inner = arg
        count = max(low, 1) if once else low
        count = min(count, high) if high != _C.MAXREPEAT else count
        return "".join(_walk(inner, once, groups) for _ in range(count))
    if op is _C.GROUPREF:
        return groups.get(arg, "")
    if op is _C.CATEGORY:
        return _pick(lambda c: _category(arg, c))
    raise _Unreadable(str(op))


def _pick(allowed: Any) -> str:
    for char in _PREFERRED:
        if allowed(char):
            return char
    raise _Unreadable("no plain character fits")


def _in_class(items: Any, char: str) -> bool:
    negate = False
    found = False
    for op, arg in items:
        if op is _C.NEGATE:
            negate = True
        elif op is _C.LITERAL:
            found = found or ord(char) == arg
        elif op is _C.RANGE:
            found = found or arg[0] <= ord(char) <= arg[1]
        elif op is _C.CATEGORY:
            found = found or _category(arg, char)
        else:
            raise _Unreadable(str(op))
    return found != negate


def _category(category: Any, char: str) -> bool:
    tests = {
        _C.CATEGORY_DIGIT: str.isdigit, _C.CATEGORY_WORD: lambda c: c.isalnum() or c == "_",
        _C.CATEGORY_SPACE: str.isspace,
    }
    for positive, test in tests.items():
        if category is positive:
            return bool(test(char))
    negated = {_C.CATEGORY_NOT_DIGIT: _C.CATEGORY_DIGIT, _C.CATEGORY_NOT_WORD: _C.CATEGORY_WORD,
               _C.CATEGORY_NOT_SPACE: _C.CATEGORY_SPACE}
    for negative, positive in negated.items():
        if category is negative:
            return not tests[positive](char)
    raise _Unreadable(str(category))
