"""A parsed Perl pattern written out in RE2's syntax with Perl's meaning, or None where RE2 cannot say it.

The input is the tree of Python's own regex parser (``re._parser``): the pattern is read once, by the
parser that already compiles it, instead of by a second hand-written one. Every character is written as
``\\x{..}``, so no escaping rule of either dialect is involved. What differs between the engines:

* Perl's ``\\d``, ``\\s`` and ``\\w`` on PVE's (decoded, Unicode) strings are Unicode classes; RE2's
  are ASCII. They are written out as Perl's sets (:data:`~pvegateway.schema.perl.PERL_SPACE`,
  :data:`~pvegateway.schema.perl.PERL_WORD`).
* Perl's ``$`` also matches before a final ``"\\n"``; RE2's is ``\\z``. A ``$`` that only ``$``s may
  follow (the last thing the match does) is ``\\n?\\z``, exact there; any other ``$`` is left to
  the backtracking engine.
* Lookarounds, backreferences, atomic groups, possessive repeats, ``\\b`` (ASCII in RE2), ``/m`` and
  counts over 1000 (RE2's limit) have no RE2 form: None.
"""

from __future__ import annotations

import re._constants as sre  # type: ignore[import-not-found]  # no stubs: the opcodes of re._parser's tree
from collections.abc import Iterable
from typing import Any

from .perl import PERL_SPACE, PERL_WORD_CLASS

_RE2_MAX_COUNT = 1000
# Flags a group may switch: RE2 knows i and s; m changes ^ and $ (not translated); a (ASCII) and L
# (locale) change the classes.
_FLAG_LETTERS = ((sre.SRE_FLAG_IGNORECASE, "i"), (sre.SRE_FLAG_DOTALL, "s"))
_UNTRANSLATED_FLAGS = sre.SRE_FLAG_MULTILINE | sre.SRE_FLAG_ASCII | sre.SRE_FLAG_LOCALE

Node = tuple[Any, Any]


class _Untranslatable(Exception):
    pass


def to_re2(tree: Iterable[Node], global_flags: int) -> str | None:
    """RE2 syntax matching exactly what Perl's ``m/TREE/`` matches, or None."""
    if global_flags & _UNTRANSLATED_FLAGS:
        return None
    nodes = list(tree)
    try:
        body = _sequence(nodes, tail_is_dollars=True)
    except _Untranslatable:
        return None
    letters = _letters(global_flags)
    return f"(?{letters}:{body})" if letters else body


def _letters(flags: int) -> str:
    return "".join(letter for bit, letter in _FLAG_LETTERS if flags & bit)


def _char(code: int) -> str:
    return f"\\x{{{code:x}}}"


def _perl_space() -> str:
    return "".join(_char(ord(c)) for c in PERL_SPACE)


def _class_items(category: Any) -> str:
    """A Perl class (\\d, \\s, \\w or their negations) as RE2 class contents; negations only alone."""
    if category is sre.CATEGORY_DIGIT:
        return r"\p{Nd}"
    if category is sre.CATEGORY_NOT_DIGIT:
        return r"\P{Nd}"
    if category is sre.CATEGORY_SPACE:
        return _perl_space()
    if category is sre.CATEGORY_WORD:
        return PERL_WORD_CLASS
    raise _Untranslatable  # \S and \W inside a bracket with other items: no RE2 way to add a complement


def _category(category: Any) -> str:
    if category is sre.CATEGORY_NOT_SPACE:
        return f"[^{_perl_space()}]"
    if category is sre.CATEGORY_NOT_WORD:
        return f"[^{PERL_WORD_CLASS}]"
    return f"[{_class_items(category)}]"


def _bracket(items: list[Node]) -> str:
    negate = bool(items) and items[0][0] is sre.NEGATE
    if negate:
        items = items[1:]
    if not negate and len(items) == 1 and items[0][0] is sre.CATEGORY:
        return _category(items[0][1])
    parts = []
    for op, av in items:
        if op is sre.LITERAL:
            parts.append(_char(av))
        elif op is sre.RANGE:
            parts.append(f"{_char(av[0])}-{_char(av[1])}")
        elif op is sre.CATEGORY:
            parts.append(_class_items(av))
        else:
            raise _Untranslatable
    if not parts:
        raise _Untranslatable
    return f"[{'^' if negate else ''}{''.join(parts)}]"


def _only_dollars(node: Node) -> bool:
    """Whether the node can do nothing but assert Perl's ``$`` (so a ``$`` before it stays last)."""
    op, av = node
    if op is sre.AT:
        return av is sre.AT_END
    if op is sre.SUBPATTERN:
        return all(_only_dollars(n) for n in av[3])
    if op is sre.BRANCH:
        return all(all(_only_dollars(n) for n in alt) for alt in av[1])
    if op in (sre.MAX_REPEAT, sre.MIN_REPEAT):
        return all(_only_dollars(n) for n in av[2])
    return False


def _sequence(nodes: list[Node], tail_is_dollars: bool) -> str:
    out = []
    for index, node in enumerate(nodes):
        after = tail_is_dollars and all(_only_dollars(n) for n in nodes[index + 1:])
        out.append(_node(node, after))
    return "".join(out)


def _repeat(av: Any, tail_is_dollars: bool, lazy: bool) -> str:
    low, high, body = av
    if low > _RE2_MAX_COUNT or (high is not sre.MAXREPEAT and high > _RE2_MAX_COUNT):
        raise _Untranslatable
    nodes = list(body)
    # another iteration may follow the body, so a $ in it is last only if the body is nothing but $s
    inner = _sequence(nodes, tail_is_dollars and (high == 1 or all(_only_dollars(n) for n in nodes)))
    if high is sre.MAXREPEAT:
        count = "*" if low == 0 else "+" if low == 1 else f"{{{low},}}"
    elif (low, high) == (0, 1):
        count = "?"
    else:
        count = f"{{{low}}}" if low == high else f"{{{low},{high}}}"
    return f"(?:{inner}){count}{'?' if lazy else ''}"


def _node(node: Node, tail_is_dollars: bool) -> str:
    op, av = node
    if op is sre.LITERAL:
        return _char(av)
    if op is sre.NOT_LITERAL:
        return f"[^{_char(av)}]"
    if op is sre.ANY:
        return "."  # without /s not "\n" in either engine; (?s:) groups carry DOTALL
    if op is sre.IN:
        return _bracket(list(av))
    if op is sre.CATEGORY:
        return _category(av)
    if op is sre.BRANCH:
        return "(?:" + "|".join(_sequence(list(alt), tail_is_dollars) for alt in av[1]) + ")"
    if op is sre.SUBPATTERN:
        _group, add, remove, body = av
        if add & _UNTRANSLATED_FLAGS:
            raise _Untranslatable  # switching m off (Perl's (?^:...) does) changes nothing: it is never on
        on, off = _letters(add), _letters(remove)
        flags = on + (f"-{off}" if off else "")
        return f"(?{flags}:{_sequence(list(body), tail_is_dollars)})"
    if op in (sre.MAX_REPEAT, sre.MIN_REPEAT):
        return _repeat(av, tail_is_dollars, lazy=op is sre.MIN_REPEAT)
    if op is sre.AT:
        return _anchor(av, tail_is_dollars)
    # ATOMIC_GROUP, POSSESSIVE_REPEAT, ASSERT, ASSERT_NOT, GROUPREF, GROUPREF_EXISTS
    raise _Untranslatable


def _anchor(at: Any, tail_is_dollars: bool) -> str:
    if at is sre.AT_BEGINNING:
        return "^"  # without /m: the start of the text in both engines
    if at is sre.AT_BEGINNING_STRING:
        return r"\A"
    if at is sre.AT_END_STRING:
        return r"\z"
    if at is sre.AT_END and tail_is_dollars:
        # Perl's $: the end, or before a final "\n"; nothing consumes after it, so it may take that "\n"
        return r"(?:\n?\z)"
    raise _Untranslatable  # a $ something follows, \b, \B
