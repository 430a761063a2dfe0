"""Every format of both apidoc trees checks a hostile 100 KB value in linear time.

A request body may be 512 KiB and PVE checks ``format`` before ``maxLength`` (pve-common
src/PVE/JSONSchema.pm:1627-1647), so a format check sees the whole value. The values here are the
usual shapes of trouble for parsers and regexes: a value the format accepts, repeated with the
separators lists use, then a character that fails; and long runs of one piece. The bound is generous
for one check; what it proves is that no check grows faster than the value.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import cache
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from pvegateway.apidoc.sources import load_tree, resolve
from pvegateway.errors import PVEError
from pvegateway.schema.formats.registry import CODE_FORMATS, HASH_FORMATS
from tests.schema.test_formats_hypothesis import FAST, PIECES, single, time_bound
from tests.schema.test_properties_hypothesis import KNOWN_VALID

TREES = ("9.2", "9.1.11")
LENGTH = 100_000
SECONDS_PER_CHECK = 1.0  # linear: ~0.05 s here; quadratic or worse took seconds to hours
SEPARATORS = [",", ";", " ", "\0", ",,", ":", "-", "/", "."]
MISMATCH = ["!", ";", "\0", "\n\n", " x", "\u00b2", ":", ",", "--", "9" * 30]


def _formats(tree: Any, in_parameters: bool = False) -> Iterator[str]:
    if isinstance(tree, Mapping):
        fmt = tree.get("format")
        if in_parameters and isinstance(fmt, str):
            yield fmt
        for key, value in tree.items():
            yield from _formats(value, in_parameters or key == "parameters")
    elif isinstance(tree, list):
        for item in tree:
            yield from _formats(item, in_parameters)


@cache
def tree_formats() -> tuple[str, ...]:
    """Every named format of the request parameters of both trees, spelled as the trees spell them.

    (``returns`` is never checked: PVE does not, and it names a format PVE never registered.)
    """
    return tuple(sorted({f for name in TREES for f in _formats(load_tree(resolve(name)))}))


def test_every_tree_format_is_one_the_gateway_checks() -> None:
    known = {*CODE_FORMATS, *HASH_FORMATS, "string", "string-list", "regex"}
    assert {f for f in tree_formats() if f.removesuffix("-list").removesuffix("-opt") not in known} == set()


def checked(fmt: str, value: str) -> str | None:
    """PVE's error text for ``p=value`` under ``fmt`` (None: accepted), within the time bound."""
    with time_bound(SECONDS_PER_CHECK):
        try:
            single(fmt).validate({"p": value})
        except PVEError as err:
            assert err.errors is not None
            return err.errors["p"]
    return None


def _units(fmt: str) -> list[str]:
    base = fmt.removesuffix("-list").removesuffix("-opt")
    return KNOWN_VALID.get(base, []) or ["a", "1", "x=1"]


def hostile(unit: str, separator: str, tail: str) -> str:
    piece = unit + separator
    return (piece * (LENGTH // len(piece) + 1))[:LENGTH] + tail


@pytest.mark.parametrize("fmt", tree_formats())
@settings(FAST, max_examples=6)
@given(data=st.data())
@example(data=None)
def test_hostile_values_are_checked_in_linear_time(fmt: str, data: st.DataObject | None) -> None:
    if data is None:  # the usual suspects, for every format: a valid value repeated, then a mismatch
        values = [hostile(unit, ",", "!") for unit in _units(fmt)[:3]]
    else:
        unit = data.draw(st.sampled_from(_units(fmt)) | st.sampled_from(PIECES).filter(bool))
        values = [hostile(unit, data.draw(st.sampled_from(SEPARATORS)), data.draw(st.sampled_from(MISMATCH)))]
    for value in values:
        text = checked(fmt, value)
        assert text is None or text.startswith("invalid format - "), text[:200]


@pytest.mark.parametrize(("fmt", "value", "ending"), [
    # the reviewed triggers: 13.5 s for the firewall rule's address list, 3.1 s for 200 KB of calendar
    # (quadratic: 100 KB took 0.8 s)
    ("pve-fw-addr-spec", "1," * 250_000 + ";", "invalid IP address: Invalid chars in IP ;\n"),
    ("pve-fw-addr-spec", ",".join(f"10.{i // 256}.{i % 256}.0/24" for i in range(40_000)) + ",;",
     "invalid IP address: Invalid chars in IP ;\n"),
    ("pve-fw-addr-spec", ",".join(f"fe80::{i:x}" for i in range(50_000)) + ",10.0.0.1",
     "detected mixed ipv4/ipv6 addresses in address list '" + ",".join(f"fe80::{i:x}" for i in range(50_000))
     + ",10.0.0.1'\n"),
    # nom's separated_list1 ends the list at a ',' not followed by an item (proxmox-time calendar_event.rs)
    ("pve-calendar-event", "1," * 50_000 + "!", "unable to parse calendar event at ',!' - Nom(Eof)\n\n"),
    ("pve-calendar-event", "mon..fri," * 11_000 + "x", "unable to parse calendar event at ',x' - Nom(Eof)\n\n"),
    ("pve-calendar-event", "1..2," * 20_000 + "3..1", "unable to parse calendar event at ',3..1' - Nom(Eof)\n\n"),
])
def test_the_reviewed_format_triggers_are_answered_at_once(fmt: str, value: str, ending: str) -> None:
    text = checked(fmt, value)
    assert text is not None and text.endswith(ending), text and text[-200:]
