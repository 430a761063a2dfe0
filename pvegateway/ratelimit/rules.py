"""Which budget a request spends: route groups and the ``--rate-limit`` spec.

A spec names a budget per group, in limits' notation: ``write=20/second;read=100/second;login=5/minute``.
A group may have several limits (``read=100/second,2000/minute``, or ``;`` followed by a part without
``=``, which continues the group before it). Groups:

- ``read``: GET;
- ``write``: POST, PUT, DELETE;
- ``login``: POST /access/ticket (logins and ticket renewals);
- ``upload``: POST .../upload (ISO and template uploads, which are long and heavy).

``login`` and ``upload`` are writes too: without a rule of their own they spend the ``write`` budget,
so ``write=20/second`` alone cannot be side-stepped by logging in. A group without any rule (``read``
in that example) is not limited.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from limits import RateLimitItem
from limits.util import parse_many

from ..apidoc.operation import Operation

GROUPS = ("read", "write", "login", "upload")
FALLBACK = {"login": "write", "upload": "write"}


@dataclass(frozen=True)
class Rules:
    """Limits per group; :meth:`for_operation` answers the group whose budget a call spends."""

    groups: Mapping[str, tuple[RateLimitItem, ...]]

    def for_operation(self, operation: Operation) -> tuple[str, tuple[RateLimitItem, ...]] | None:
        """(group, limits) for ``operation`` (its ``rate_group``, or the one that group falls back to),
        or None when it is not limited."""
        group = operation.rate_group
        if group in self.groups:
            return group, self.groups[group]
        fallback = FALLBACK.get(group)
        return (fallback, self.groups[fallback]) if fallback in self.groups and fallback is not None else None

    def describe(self) -> str:
        """The rules in the spec's notation, for the startup line."""
        return ";".join(f"{name}={','.join(map(notation, items))}" for name, items in self.groups.items())


def notation(item: RateLimitItem) -> str:
    """``20/second``, ``100/2 minute``: limits' own notation, which ``parse_rules`` reads back."""
    per = item.GRANULARITY.name if item.multiples == 1 else f"{item.multiples} {item.GRANULARITY.name}"
    return f"{item.amount}/{per}"


def named_parts(spec: str) -> list[tuple[str | None, str]]:
    """``a=1/second;b=2/minute;3/hour`` -> ``[("a", "1/second"), ("b", "2/minute"), (None, "3/hour")]``:
    the ``;``-separated parts of a limits spec, each with its ``NAME=`` if it has one; blanks skipped."""
    found: list[tuple[str | None, str]] = []
    for raw in spec.split(";"):
        part = raw.strip()
        if part:
            name, sep, value = part.partition("=")
            found.append((name.strip(), value.strip()) if sep else (None, part))
    return found


def parse_rules(spec: str) -> Rules:
    """``write=20/second;read=100/second`` → Rules; ValueError names the part that is wrong."""
    texts: dict[str, list[str]] = {}
    current: str | None = None
    for name, part in named_parts(spec):
        if name is not None:
            current = name.lower()
            if current not in GROUPS:
                raise ValueError(f"unknown rate-limit group {name!r} (groups: {', '.join(GROUPS)})")
        elif current is None:
            raise ValueError(f"{part!r}: expected GROUP=LIMIT, e.g. write=20/second")
        texts.setdefault(current, []).append(part)
    if not texts:
        raise ValueError("empty rate-limit spec: expected e.g. write=20/second;read=100/second")
    groups: dict[str, tuple[RateLimitItem, ...]] = {}
    for name, parts in texts.items():
        items: list[RateLimitItem] = []
        for text in parts:
            try:
                items.extend(parse_many(text))
            except ValueError:
                raise ValueError(f"{name}: cannot read {text!r} as a limit (e.g. 20/second, 100/minute)") from None
        groups[name] = tuple(items)
    return Rules(groups)
