"""Named property-string formats: coverage, well-formedness, post-validators, LXC code formats."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pvegateway.schema.formats import (
    FormatError,
    registry,
)
from pvegateway.schema.formats.hashes import (
    FORMATS,
    HASH_FORMATS,
    HASH_VALIDATORS,
    set_custom_cpu_models,
)

APIDOC_DIR = Path(__file__).resolve().parents[2] / "apidoc"

WORK_LIST = (
    "pve-qm-ipconfig", "pve-vm-cpu-conf", "pve-qm-boot", "pve-qm-hostpci", "pve-qm-rng",
    "pve-qm-smbios1", "pve-qm-watchdog", "pve-qm-cicustom", "pve-qemu-sev-fmt", "pve-qemu-tdx-fmt",
    "prune-backups", "backup-fleecing", "backup-performance", "realm-sync-options",
    "pve-tfa-config", "proxmox-remote", "pve-sdn-dhcp-range", "pve-lxc-mp-string",
    "pve-lxc-dev-string", "pve-qm-ide", "pve-sdn-fabric-wireguard-interface",
)  # fmt: skip

KNOWN_TYPES = {"string", "integer", "boolean", "number"}
SUBSCHEMA_KEYS = {
    "type", "optional", "default_key", "alias", "keyAlias", "enum", "pattern", "format",
    "minimum", "maximum", "maxLength", "minLength", "requires", "default", "description",
    "format_description", "typetext",
}  # fmt: skip

CPU_FLAGS_TEXT = (
    "VM-specific CPU flags must be a subset of: aes, amd-no-ssb, amd-ssbd, hv-evmcs, "
    "hv-tlbflush, ibpb, md-clear, nested-virt, pcid, pdpe1gb, spec-ctrl, ssbd, virt-ssbd\n"
)


def _base_format(name: str) -> str:
    return re.sub(r"-(?:a?list|opt)$", "", name)


def _apidoc_named_formats() -> set[str]:
    names: set[str] = set()

    def visit(obj: Any) -> Iterator[str]:
        if isinstance(obj, dict):
            fmt = obj.get("format")
            if isinstance(fmt, str):
                yield fmt
            for value in obj.values():
                yield from visit(value)
        elif isinstance(obj, list):
            for value in obj:
                yield from visit(value)

    for path in sorted(APIDOC_DIR.glob("pve-*.json")):
        names.update(visit(json.loads(path.read_text())))
    return names


@pytest.fixture(autouse=True)
def _reset_custom_models() -> Iterator[None]:
    yield
    set_custom_cpu_models(None)


# --- coverage -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", WORK_LIST)
def test_every_name_is_defined_once(name: str) -> None:
    assert (name in HASH_FORMATS) != (name in FORMATS)


def test_code_formats_are_the_lxc_paths() -> None:
    assert set(FORMATS) == {"pve-lxc-mp-string", "pve-lxc-dev-string"}
    assert set(HASH_FORMATS) == set(WORK_LIST) - set(FORMATS)


def test_validators_belong_to_hash_formats() -> None:
    assert set(HASH_VALIDATORS) == {"pve-vm-cpu-conf", "prune-backups"}
    assert set(HASH_VALIDATORS) <= set(HASH_FORMATS)


@pytest.mark.skipif(not APIDOC_DIR.is_dir(), reason="apidoc trees not present")
def test_work_list_and_external_names_are_apidoc_names() -> None:
    named = _apidoc_named_formats()
    assert set(WORK_LIST) <= named
    assert {"ipv4", "ipv6", "urlencoded", "pve-phys-bits", "pve-volume-id-or-qm-path"} <= named


# --- well-formedness ------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(HASH_FORMATS))
def test_definition_is_well_formed(name: str) -> None:
    fmt = HASH_FORMATS[name]
    assert fmt
    default_keys = [k for k, sub in fmt.items() if sub.get("default_key")]
    assert len(default_keys) <= 1
    for key, sub in fmt.items():
        assert set(sub) <= SUBSCHEMA_KEYS, (key, set(sub) - SUBSCHEMA_KEYS)
        if "alias" in sub:
            assert set(sub) <= {"alias", "keyAlias"}, key
            target = fmt.get(sub["alias"])
            assert target is not None and "alias" not in target, key
            continue
        assert sub.get("type") in KNOWN_TYPES, key
        if "description" in sub:
            assert "\n" not in sub["description"] and len(sub["description"]) <= 100, key
        if "enum" in sub:
            assert sub["enum"] and all(isinstance(v, str) for v in sub["enum"]), key
        if "requires" in sub:
            assert sub["requires"] in fmt, key
        for bound in ("minimum", "maximum", "maxLength", "minLength"):
            if bound in sub:
                assert isinstance(sub[bound], int), (key, bound)


@pytest.mark.parametrize("name", sorted(HASH_FORMATS))
def test_referenced_formats_are_known(name: str) -> None:
    for key, sub in HASH_FORMATS[name].items():
        fmt = sub.get("format")
        if fmt is None:
            continue
        assert isinstance(fmt, str), key
        base = _base_format(fmt)
        assert base in registry.CODE_FORMATS or base in registry.HASH_FORMATS, (key, fmt)


def test_key_lists_match_apidoc_and_corpus() -> None:
    assert list(HASH_FORMATS["pve-qm-ipconfig"]) == ["ip", "gw", "ip6", "gw6"]
    assert HASH_FORMATS["pve-qm-ipconfig"]["gw"]["requires"] == "ip"
    assert "level" in HASH_FORMATS["pve-vm-cpu-conf"]
    assert "driver" in HASH_FORMATS["pve-qm-hostpci"]
    assert len(HASH_FORMATS["pve-qm-ide"]) == 44
    assert HASH_FORMATS["pve-qm-ide"]["volume"] == {"alias": "file"}
    dhcp = HASH_FORMATS["pve-sdn-dhcp-range"]
    assert "end" not in dhcp and not dhcp["end-address"].get("optional")
    assert "size" not in HASH_FORMATS["backup-fleecing"]
    assert HASH_FORMATS["prune-backups"]["keep-hourly"]["type"] == "integer"
    assert not HASH_FORMATS["pve-qemu-tdx-fmt"]["attestation"].get("optional")
    required = [k for k, s in HASH_FORMATS["proxmox-remote"].items() if not s.get("optional")]
    assert sorted(required) == ["apitoken", "host"]
    # 'boot=order=scsi0,net0': the key-less 'net0' lands in 'legacy' and fails its pattern
    assert not re.fullmatch(HASH_FORMATS["pve-qm-boot"]["legacy"]["pattern"], "net0")


# --- pve-vm-cpu-conf validator ---------------------------------------------------------------

cpu_validator = HASH_VALIDATORS["pve-vm-cpu-conf"]


@pytest.mark.parametrize(
    "conf",
    [
        {"cputype": "host"},
        {"cputype": "x86-64-v2-AES", "flags": "+aes;-pcid"},
        {"cputype": "kvm64", "hidden": "1", "flags": "0"},
        {"cputype": "custom-mymodel"},
        {"cputype": "EPYC-Genoa", "flags": "+nested-virt;+md-clear"},
        {"cputype": "cortex-a72"},
    ],
)
def test_cpu_validator_accepts(conf: dict[str, Any]) -> None:
    assert cpu_validator(dict(conf)) == conf


@pytest.mark.parametrize(
    ("conf", "text"),
    [
        ({}, "CPU is missing cputype\n"),
        ({"cputype": "0"}, "CPU is missing cputype\n"),
        ({"cputype": ""}, "CPU is missing cputype\n"),
        ({"cputype": "Skylake"}, "Built-in cputype 'Skylake' is not defined (missing 'custom-' prefix?)\n"),
        ({"cputype": "host", "flags": "+aes;+avx2"}, CPU_FLAGS_TEXT),
        ({"cputype": "host", "flags": "aes"}, CPU_FLAGS_TEXT),
        ({"cputype": "host", "reported-model": "kvm64"},
         "Property 'reported-model' not allowed in VM-specific CPU config.\n"),
    ],
)  # fmt: skip
def test_cpu_validator_rejects(conf: dict[str, Any], text: str) -> None:
    with pytest.raises(FormatError) as info:
        cpu_validator(conf)
    assert info.value.text == text


def test_cpu_validator_checks_order() -> None:
    conf = {"cputype": "nope", "flags": "+bad", "reported-model": "qemu64"}
    with pytest.raises(FormatError) as info:
        cpu_validator(conf)
    assert info.value.text.startswith("Built-in cputype 'nope'")


def test_cpu_validator_custom_models() -> None:
    set_custom_cpu_models(["known"])
    assert cpu_validator({"cputype": "custom-known"})
    with pytest.raises(FormatError) as info:
        cpu_validator({"cputype": "custom-other"})
    assert info.value.text == "Custom cputype 'other' not found\n"


# --- prune-backups validator -----------------------------------------------------------------

prune_validator = HASH_VALIDATORS["prune-backups"]


@pytest.mark.parametrize(
    "conf",
    [
        {"keep-all": "1"},
        {"keep-all": "1", "keep-last": "0"},
        {"keep-all": "0", "keep-last": "3"},
        {"keep-daily": "7", "keep-weekly": "4"},
        {},
    ],
)
def test_prune_validator_accepts(conf: dict[str, Any]) -> None:
    prune_validator(conf)


@pytest.mark.parametrize("conf", [{"keep-all": "1", "keep-last": "2"}, {"keep-all": 1, "keep-yearly": 1}])
def test_prune_validator_rejects(conf: dict[str, Any]) -> None:
    with pytest.raises(FormatError) as info:
        prune_validator(conf)
    assert info.value.text == "keep-all cannot be set together with other options.\n"


# --- LXC code formats ------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["/mnt/data", "relative/path", "/a/..b/c", "/a/.hidden", "..x/y"])
def test_lxc_mp_string_accepts(value: str) -> None:
    FORMATS["pve-lxc-mp-string"](value)


@pytest.mark.parametrize("value", ["/a/../b", "/a/./b", "/a/..", "/a/.", "../etc", "/a/..\n"])
def test_lxc_mp_string_rejects(value: str) -> None:
    with pytest.raises(FormatError) as info:
        FORMATS["pve-lxc-mp-string"](value)
    assert info.value.text == f"{value} contains illegal character sequences\n"


@pytest.mark.parametrize("value", ["/dev/ttyUSB1", "/dev/dri/renderD128", "/dev/.x"])
def test_lxc_dev_string_accepts(value: str) -> None:
    FORMATS["pve-lxc-dev-string"](value)


@pytest.mark.parametrize("value", ["/tmp/x", "dev/null", "/dev/../etc/shadow", "/dev/.", "/dev/./null"])
def test_lxc_dev_string_rejects(value: str) -> None:
    with pytest.raises(FormatError) as info:
        FORMATS["pve-lxc-dev-string"](value)
    assert info.value.text == f"{value} is not a valid device path\n"
