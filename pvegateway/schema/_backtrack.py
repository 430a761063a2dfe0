"""Which patterns Python's backtracking ``re`` matches in linear time, proven from their parse tree.

Only patterns RE2 cannot take come here (in PVE 9.1/9.2: two with an atomic group, one counting to 4096).
The test is deliberately narrow, and says yes only when backtracking is bounded:

* every top-level alternative starts with ``^``/``\\A``, so a start other than 0 fails at once;
* no lookaround, backreference or alternation inside the pattern;
* a repeat whose count may vary ("variable") gives the engine up to n ways back. At most one is
  allowed, repeating a single character, or a committed (atomic) group that holds the only other
  one, itself followed only by optional characters (so an iteration never gives back and costs what it
  consumes);
* every other repeat is of a single character: fixed counts offer no choice, and ``?`` at most
  :data:`_MAX_OPTIONAL` doublings.

With one way back per character and a bounded rest, a match attempt costs O(n).
"""

from __future__ import annotations

import re._constants as sre  # type: ignore[import-not-found]  # no stubs: the opcodes of re._parser's tree
from collections.abc import Iterable, Iterator
from typing import Any

Node = tuple[Any, Any]

_SINGLE = (sre.LITERAL, sre.NOT_LITERAL, sre.ANY, sre.IN, sre.CATEGORY)
_REPEATS = (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT)
_REFUSED = (sre.ASSERT, sre.ASSERT_NOT, sre.GROUPREF, sre.GROUPREF_EXISTS, sre.BRANCH)
_MAX_OPTIONAL = 6


def linear(tree: Iterable[Node]) -> bool:
    nodes = list(tree)
    if len(nodes) == 1 and nodes[0][0] is sre.BRANCH:
        return all(_linear_alternative(list(alt)) for alt in nodes[0][1][1])
    return _linear_alternative(nodes)


def _linear_alternative(nodes: list[Node]) -> bool:
    first = _first_leaf(nodes)
    if first is None or first[0] is not sre.AT or first[1] not in (sre.AT_BEGINNING, sre.AT_BEGINNING_STRING):
        return False
    everything = list(_walk(nodes))
    if any(op in _REFUSED for op, _ in everything):
        return False
    repeats = [(op, av) for op, av in everything if op in _REPEATS]
    if any(not _single(av[2]) and not _atomic_body(av[2]) for _, av in repeats):
        return False
    optional = [av for _, av in repeats if av[1] == 1]
    variable = [av for _, av in repeats if _variable(av)]
    if len(optional) > _MAX_OPTIONAL:
        return False
    if not variable:
        return True
    if len(variable) == 1:
        return _single(variable[0][2])
    # the outer of two variable repeats iterating a committed group that holds the inner one
    outer = next((av for av in variable if _atomic_body(av[2])), None)
    return len(variable) == 2 and outer is not None and _committing(list(next(iter(outer[2]))[1]))


def _variable(av: Any) -> bool:
    low, high, _ = av
    return bool(high != low and high != 1)


def _first_leaf(nodes: list[Node]) -> Node | None:
    for op, av in nodes:
        if op is sre.SUBPATTERN:
            return _first_leaf(list(av[3]))
        return op, av
    return None


def _walk(nodes: Iterable[Node]) -> Iterator[Node]:
    for op, av in nodes:
        yield op, av
        if op is sre.SUBPATTERN:
            yield from _walk(av[3])
        elif op in _REPEATS:
            yield from _walk(av[2])
        elif op is sre.ATOMIC_GROUP:
            yield from _walk(av)
        elif op is sre.BRANCH:
            for alt in av[1]:
                yield from _walk(alt)


def _single(body: Any) -> bool:
    nodes = list(body)
    return len(nodes) == 1 and nodes[0][0] in _SINGLE


def _atomic_body(body: Any) -> bool:
    nodes = list(body)
    return len(nodes) == 1 and nodes[0][0] is sre.ATOMIC_GROUP


def _committing(nodes: list[Node]) -> bool:
    """Single characters with exactly one greedy variable repeat, and only optional ones after it."""
    seen_variable = False
    for op, av in nodes:
        if op in _SINGLE:
            if seen_variable:
                return False
            continue
        if op is not sre.MAX_REPEAT or not _single(av[2]):
            return False
        if _variable(av):
            if seen_variable:
                return False
            seen_variable = True
        elif seen_variable and av[0] != 0:
            return False
    return seen_variable
