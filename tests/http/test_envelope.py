"""PVE's json and extjs envelopes (Formatter/Standard.pm)."""

from __future__ import annotations

import html
import json

from hypothesis import given
from hypothesis import strategies as st

from pvegateway.errors import PVEError
from pvegateway.http import envelope


def test_total_and_changes_only_when_truthy() -> None:
    assert json.loads(envelope.success("json", [], total=0).body) == {"data": []}
    assert json.loads(envelope.success("json", [1], total=3).body) == {"data": [1], "total": 3}
    assert json.loads(envelope.success("json", None, changes="diff").body) == {"data": None, "changes": "diff"}


def test_json_error_carries_message_and_errors_and_reason() -> None:
    rendered = envelope.failure("json", PVEError.params({"vmid": "bad"}))
    assert rendered.status == 400
    assert rendered.reason == "Parameter verification failed."
    assert json.loads(rendered.body) == {
        "data": None, "message": "Parameter verification failed.\n", "errors": {"vmid": "bad"},
    }


def test_extjs_error_is_200_with_status_in_body() -> None:
    rendered = envelope.failure("extjs", PVEError(403, "Permission check failed (/vms/100, VM.Audit)\n"))
    assert rendered.status == 200
    assert json.loads(rendered.body) == {
        "data": None, "success": 0, "status": 403, "message": "Permission check failed (/vms/100, VM.Audit)\n",
    }


def test_reason_is_the_first_line_or_the_standard_phrase() -> None:
    assert envelope.reason_for(403, "Permission check failed (x\nmore)") == "Permission check failed (x"
    assert envelope.reason_for(500, "") == "Internal Server Error"


def test_bare_errors_have_no_body_and_no_content_type() -> None:
    rendered = envelope.failure("json", PVEError(401, "No ticket", bare=True))
    assert rendered.body == b"" and rendered.content_type is None and rendered.reason == "No ticket"


def test_spiceconfig_renders_virt_viewer_file() -> None:
    rendered = envelope.success("spiceconfig", {"type": "spice", "host": "pve1"})
    assert rendered.body == b"[virt-viewer]\ntype=spice\nhost=pve1\n"
    assert rendered.content_type == "application/x-virt-viewer;charset=UTF-8"


_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
_values = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner,
                                                                                              max_size=3), max_leaves=8)
_objects = st.dictionaries(st.text(), _values, max_size=5)


@given(rows=st.lists(st.tuples(_objects, st.booleans()), max_size=8), fmt=st.sampled_from(["json", "extjs"]))
def test_a_list_of_fragments_is_written_as_the_whole_list_encoded(
        rows: list[tuple[dict[str, object], bool]], fmt: str) -> None:
    """Objects that carry their JSON text (kept by the mock while unchanged) are joined, not encoded
    again; the answer must be byte for byte what the json module writes for the plain list, in the
    gateway's compact UTF-8 form."""
    data = [envelope.Fragment(row) if fragment else row for row, fragment in rows]
    plain = {"data": [dict(row) for row, _ in rows], **({"success": 1} if fmt == "extjs" else {})}
    expected = json.dumps(plain, separators=(",", ":"), ensure_ascii=False).encode()
    assert envelope.success(fmt, data).body == expected


@given(row=_objects, fmt=st.sampled_from(["json", "extjs", "htmljs"]))
def test_a_fragment_answered_alone_is_written_as_the_object_encoded(row: dict[str, object], fmt: str) -> None:
    """A single object that carries its JSON text (a VM's status/current) is written as json writes
    the plain object, in every format that wraps it."""
    plain = {"data": dict(row), **({"success": 1} if fmt != "json" else {})}
    expected = json.dumps(plain, separators=(",", ":"), ensure_ascii=False)
    body = envelope.success(fmt, envelope.Fragment(row)).body
    assert body == (html.escape(expected) if fmt == "htmljs" else expected).encode()
