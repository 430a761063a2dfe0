"""The ``pve-calendar-event`` check: pve-common's Perl wrapper around proxmox-time's parser.

pve-common ``PVE::CalendarEvent`` trims the value, refuses an empty one, then hands it to the
Rust ``CalendarEvent`` parser (proxmox-time ``calendar_event.rs``, a nom parser wrapped in
``all_consuming``). Its error is ``unable to parse calendar event at '<rest>' - <kind>`` where
``<rest>``/``<kind>`` are the input and kind of the *first* entry of nom's ``VerboseError``:
``Context("weekday")``, ``Context("date or time specification")`` or ``Nom(Eof)``. Every other
inner failure is swallowed by an ``opt``/``separated_list1``, so this module only has to track
where parsing stops; it mirrors the combinators step by step for that.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from ._perl import trim

_U32_MAX = 2**32 - 1
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
    """A nom ``Err::Error``: the remaining input and the Debug form of the error kind."""

    def __init__(self, rest: str, kind: str) -> None:
        super().__init__(rest, kind)
        self.rest = rest
        self.kind = kind


_Parser = Callable[[str], str]  # consumes a prefix, returns the rest or raises _Fail


def _digits(text: str) -> str:
    end = 0
    while end < len(text) and "0" <= text[end] <= "9":
        end += 1
    return text[:end]


def _time_comp(limit: int) -> Callable[[str], tuple[str, int]]:
    def parse(text: str) -> tuple[str, int]:
        digits = _digits(text)
        if not digits:
            raise _Fail(text, "Nom(Digit)")
        # more than 10 significant digits exceed u32 (and a 4300+ digit int() is refused by Python)
        significant = digits.lstrip("0")
        value = int(significant) if 0 < len(significant) <= 10 else (0 if not significant else _U32_MAX + 1)
        if value > _U32_MAX:  # str::parse::<u32> in map_res
            raise _Fail(text, "Nom(MapRes)")
        rest = text[len(digits) :]
        if value >= limit:
            raise _Fail(rest, 'Context("time value too large")')
        return rest, value

    return parse


def _separated_list1(element: _Parser) -> _Parser:
    def parse(text: str) -> str:
        text = element(text)
        while text.startswith(","):
            try:
                text = element(text[1:])
            except _Fail:
                break
        return text

    return parse


def _date_time_comp(limit: int) -> _Parser:
    comp = _time_comp(limit)

    def parse(text: str) -> str:
        text, start = comp(text)
        if text.startswith(".."):
            try:
                after, end = comp(text[2:])
            except _Fail:
                pass
            else:
                if start > end:
                    raise _Fail(after, 'Context("range start is bigger than end")')
                text = after
        if text.startswith("/"):
            text, _ = comp(text[1:])
        return text

    return parse


def _comp_list(limit: int) -> _Parser:
    comp = _time_comp(limit)
    items = _separated_list1(_date_time_comp(limit))

    def parse(text: str) -> str:
        if text.startswith("*"):
            rest = text[1:]
            if rest.startswith("/"):
                after, repeat = comp(rest[1:])
                if repeat > 0:
                    return after
            return rest
        return items(text)

    return parse


_HOURS, _MINUTES, _YEARS, _MONTHS, _DAYS = (_comp_list(n) for n in (24, 60, 2200, 13, 32))


def _tag(text: str, tag: str) -> str:
    if not text.startswith(tag):
        raise _Fail(text, "Nom(Tag)")
    return text[len(tag) :]


def _optional(parser: _Parser, text: str) -> str:
    """nom's ``opt``: the rest after ``parser``, or the unchanged input if it fails."""
    try:
        return parser(text)
    except _Fail:
        return text


def _time_spec(text: str) -> str:
    text = _optional(lambda t: _tag(_HOURS(t), ":"), text)
    text = _MINUTES(text)
    return _optional(lambda t: _MINUTES(_tag(t, ":")), text)


def _date_spec(text: str) -> str:
    with contextlib.suppress(_Fail):
        return _DAYS(_tag(_MONTHS(_tag(_YEARS(text), "-")), "-"))
    try:
        return _DAYS(_tag(_MONTHS(text), "-"))
    except _Fail:
        raise _Fail(text, 'Context("invalid date spec")') from None


def _weekday(text: str) -> str:
    end = 0
    while end < len(text) and text[end].isascii() and text[end].isalpha():
        end += 1
    if end == 0:
        raise _Fail(text, "Nom(Alpha)")
    if text[:end].lower() not in _WEEKDAYS:
        raise _Fail(text[:end], 'Context("weekday")')
    return text[end:]


def _weekday_range(text: str) -> str:
    return _optional(lambda t: _weekday(_tag(t, "..")), _weekday(text))


_WEEKDAY_LIST = _separated_list1(_weekday_range)


def _space0(text: str) -> str:
    return text.lstrip(" \t")


def _event(text: str) -> str:
    if text.endswith("UTC"):
        text = text[:-3].rstrip(" ")
    found = False
    if text[:1].isascii() and text[:1].isalpha():
        if text in _SPECIAL:
            return ""
        text = _space0(_WEEKDAY_LIST(text))
        found = True
    try:
        text = _space0(_date_spec(text))
        found = True
    except _Fail:
        pass
    try:
        text = _time_spec(text)
        found = True
    except _Fail:
        pass
    if not found:
        raise _Fail(text, 'Context("date or time specification")')
    return text


def calendar_event_error(value: str) -> str | None:
    """The message ``PVE::CalendarEvent::parse_calendar_event`` dies with, or None if valid."""
    event = trim(value)
    if event == "":
        return "unable to parse calendar event - event is empty\n"
    try:
        rest = _event(event)
        if rest:
            raise _Fail(rest, "Nom(Eof)")
    except _Fail as fail:
        # perlmod turns the Rust error into a Perl die with a trailing newline
        return f"unable to parse calendar event at '{fail.rest}' - {fail.kind}\n"
    return None
