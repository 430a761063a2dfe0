"""The ``pve-calendar-event`` check: pve-common's Perl wrapper around proxmox-time's parser.

pve-common ``PVE::CalendarEvent`` trims the value, refuses an empty one, then hands it to the
Rust ``CalendarEvent`` parser (proxmox-time ``calendar_event.rs``, a nom parser wrapped in
``all_consuming``). Its error is ``unable to parse calendar event at '<rest>' - <kind>`` where
``<rest>``/``<kind>`` are the input and kind of the *first* entry of nom's ``VerboseError``:
``Context("weekday")``, ``Context("date or time specification")`` or ``Nom(Eof)``. Every other
inner failure is swallowed by an ``opt``/``separated_list1``, so this module only has to track
where parsing stops; it mirrors the combinators step by step for that.

Parsers take the text and a position and return the position after what they consumed: handing on
the rest as a new string copied it at every step, so the cost grew with the square of the length.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable

from ._perl import trim

_U32_MAX = 2**32 - 1
_DIGITS = re.compile("[0-9]*")
_SPECIAL = frozenset(
    {
        "minutely", "hourly", "daily", "weekly", "monthly", "yearly", "annually",
        "quarterly", "semiannually", "semi-annually",
    }
)  # fmt: skip
_WEEKDAYS = frozenset(
    {"monday", "mon", "tuesday", "tue", "wednesday", "wed", "thursday", "thu",
     "friday", "fri", "saturday", "sat", "sunday", "sun"}
)  # fmt: skip


class _Fail(Exception):
    """A nom ``Err::Error``: where the remaining input starts (and, rarely, ends) and the error kind."""

    def __init__(self, at: int, kind: str, end: int | None = None) -> None:
        super().__init__(at, kind)
        self.at = at
        self.end = end
        self.kind = kind


_Parser = Callable[[str, int], int]  # consumes from a position, returns the position after it or raises _Fail


def _digits_end(text: str, at: int) -> int:
    return _DIGITS.match(text, at).end()  # type: ignore[union-attr]  # [0-9]* always matches


def _time_comp(limit: int) -> Callable[[str, int], tuple[int, int]]:
    def parse(text: str, at: int) -> tuple[int, int]:
        end = _digits_end(text, at)
        if end == at:
            raise _Fail(at, "Nom(Digit)")
        # more than 10 significant digits exceed u32 (and a 4300+ digit int() is refused by Python)
        significant = text[at:end].lstrip("0")
        value = int(significant) if 0 < len(significant) <= 10 else (0 if not significant else _U32_MAX + 1)
        if value > _U32_MAX:  # str::parse::<u32> in map_res
            raise _Fail(at, "Nom(MapRes)")
        if value >= limit:
            raise _Fail(end, 'Context("time value too large")')
        return end, value

    return parse


def _separated_list1(element: _Parser) -> _Parser:
    def parse(text: str, at: int) -> int:
        at = element(text, at)
        while text.startswith(",", at):
            try:
                at = element(text, at + 1)
            except _Fail:
                break
        return at

    return parse


def _date_time_comp(limit: int) -> _Parser:
    comp = _time_comp(limit)

    def parse(text: str, at: int) -> int:
        at, start = comp(text, at)
        if text.startswith("..", at):
            try:
                after, end = comp(text, at + 2)
            except _Fail:
                pass
            else:
                if start > end:
                    raise _Fail(after, 'Context("range start is bigger than end")')
                at = after
        if text.startswith("/", at):
            at, _ = comp(text, at + 1)
        return at

    return parse


def _comp_list(limit: int) -> _Parser:
    comp = _time_comp(limit)
    items = _separated_list1(_date_time_comp(limit))

    def parse(text: str, at: int) -> int:
        if text.startswith("*", at):
            rest = at + 1
            if text.startswith("/", rest):
                after, repeat = comp(text, rest + 1)
                if repeat > 0:
                    return after
            return rest
        return items(text, at)

    return parse


_HOURS, _MINUTES, _YEARS, _MONTHS, _DAYS = (_comp_list(n) for n in (24, 60, 2200, 13, 32))


def _tag(text: str, at: int, tag: str) -> int:
    if not text.startswith(tag, at):
        raise _Fail(at, "Nom(Tag)")
    return at + len(tag)


def _optional(parser: _Parser, text: str, at: int) -> int:
    """nom's ``opt``: the position after ``parser``, or the unchanged one if it fails."""
    try:
        return parser(text, at)
    except _Fail:
        return at


def _time_spec(text: str, at: int) -> int:
    at = _optional(lambda t, a: _tag(t, _HOURS(t, a), ":"), text, at)
    at = _MINUTES(text, at)
    return _optional(lambda t, a: _MINUTES(t, _tag(t, a, ":")), text, at)


def _date_spec(text: str, at: int) -> int:
    with contextlib.suppress(_Fail):
        return _DAYS(text, _tag(text, _MONTHS(text, _tag(text, _YEARS(text, at), "-")), "-"))
    try:
        return _DAYS(text, _tag(text, _MONTHS(text, at), "-"))
    except _Fail:
        raise _Fail(at, 'Context("invalid date spec")') from None


def _weekday(text: str, at: int) -> int:
    end = at
    while end < len(text) and text[end].isascii() and text[end].isalpha():
        end += 1
    if end == at:
        raise _Fail(at, "Nom(Alpha)")
    if text[at:end].lower() not in _WEEKDAYS:
        raise _Fail(at, 'Context("weekday")', end)
    return end


def _weekday_range(text: str, at: int) -> int:
    return _optional(lambda t, a: _weekday(t, _tag(t, a, "..")), text, _weekday(text, at))


_WEEKDAY_LIST = _separated_list1(_weekday_range)


def _space0(text: str, at: int) -> int:
    while text.startswith((" ", "\t"), at):
        at += 1
    return at


def _event(text: str) -> int:
    """Where parsing of an event (its trailing "UTC" already cut) stops."""
    found = False
    at = 0
    if text[:1].isascii() and text[:1].isalpha():
        if text in _SPECIAL:
            return len(text)
        at = _space0(text, _WEEKDAY_LIST(text, at))
        found = True
    try:
        at = _space0(text, _date_spec(text, at))
        found = True
    except _Fail:
        pass
    try:
        at = _time_spec(text, at)
        found = True
    except _Fail:
        pass
    if not found:
        raise _Fail(at, 'Context("date or time specification")')
    return at


def calendar_event_error(value: str) -> str | None:
    """The message ``PVE::CalendarEvent::parse_calendar_event`` dies with, or None if valid."""
    event = trim(value)
    if event == "":
        return "unable to parse calendar event - event is empty\n"
    text = event[:-3].rstrip(" ") if event.endswith("UTC") else event
    try:
        at = _event(text)
        if at < len(text):
            raise _Fail(at, "Nom(Eof)")
    except _Fail as fail:
        # perlmod turns the Rust error into a Perl die with a trailing newline
        return f"unable to parse calendar event at '{text[fail.at:fail.end]}' - {fail.kind}\n"
    return None
