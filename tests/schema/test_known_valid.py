"""Parameters a validator accepted are not checked again (schema/validate.py keeps them): what it keeps
must never let through what another operation, or another value, would refuse."""

from __future__ import annotations

import pytest

from pvegateway.errors import PVEError
from pvegateway.schema.validate import KNOWN_VALID_CHARS, ParamValidator

# two operations' parameters as PVE's schema states them (the tree's form: optional 1, formats by name)
VMID = ParamValidator({"additionalProperties": 0, "properties": {
    "node": {"type": "string", "format": "pve-node"},
    "vmid": {"type": "integer", "format": "pve-vmid", "minimum": 100}}})
NODE_ONLY = ParamValidator({"additionalProperties": 0, "properties": {
    "node": {"type": "string", "format": "pve-node"}}})
LONG = ParamValidator({"additionalProperties": 0, "properties": {
    "description": {"type": "string", "maxLength": 8192, "optional": 1}}})


def test_accepted_by_one_operation_is_still_refused_by_another() -> None:
    params = {"node": "pve1", "vmid": "100"}
    VMID.validate(dict(params))
    VMID.validate(dict(params))  # kept: passes again
    with pytest.raises(PVEError) as refused:
        NODE_ONLY.validate(dict(params))
    assert refused.value.status == 400
    # pve-common src/PVE/JSONSchema.pm:1407-1411
    assert refused.value.errors == {
        "vmid": "property is not defined in schema and the schema does not allow additional properties"}


def test_a_changed_value_is_checked_anew() -> None:
    VMID.validate({"node": "pve1", "vmid": "101"})
    for bad in ("99", "abc", "101 "):
        with pytest.raises(PVEError) as refused:
            VMID.validate({"node": "pve1", "vmid": bad})
        assert set(refused.value.errors or {}) == {"vmid"}


def test_long_values_are_validated_every_time() -> None:
    text = "x" * (KNOWN_VALID_CHARS * 4)
    for _ in range(3):
        LONG.validate({"description": text})
    with pytest.raises(PVEError):
        LONG.validate({"description": "x" * 9000})
