"""Installing and importing schemas: pinned sha256, atomic writes, apidoc.js as a node serves it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pvegateway.apidoc import sources
from pvegateway.apidoc.sources import SchemaError

SHARED = Path(__file__).resolve().parents[2] / "apidoc"


def _manifest(directory: Path, sha: str, upstream: object = None) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "sources.json").write_text(json.dumps({
        "default": "t", "versions": {"t": {"file": "pve-t.json", "sha256": sha, "upstream": upstream}},
    }))


def test_install_from_mirror_checks_sha256(tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    data = b'[{"path": "/version", "text": "version", "leaf": 1}]'
    (mirror / "pve-t.json").write_bytes(data)
    target = tmp_path / "apidoc"
    _manifest(target, sources.sha256(data))
    assert sources.install(mirror, directory=target, log=lambda _m: None) == ["t"]
    assert (target / "pve-t.json").read_bytes() == data
    assert not [p for p in target.iterdir() if p.name.startswith(".")]  # no temp files left


def test_install_refuses_a_sha256_mismatch(tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "pve-t.json").write_bytes(b"[]")
    target = tmp_path / "apidoc"
    _manifest(target, "0" * 64)
    with pytest.raises(SchemaError, match="sha256 mismatch"):
        sources.install(mirror, directory=target, log=lambda _m: None)
    assert not (target / "pve-t.json").exists()


def test_install_without_mirror_or_upstream_says_what_to_do(tmp_path: Path) -> None:
    target = tmp_path / "apidoc"
    _manifest(target, "0" * 64)
    with pytest.raises(SchemaError, match="APIDOC_MIRROR"):
        sources.install(None, directory=target, log=lambda _m: None)


def test_apidoc_js_is_read_without_running_the_javascript(tmp_path: Path) -> None:
    tree = (SHARED / "pve-9.1.11.json").read_bytes()
    js = b"// header\nconst apiSchema = " + tree + b";\nlet x = [1, 2]; function f() { return apiSchema; }\n"
    assert sources.json_from_apidoc_js(js) == tree
    source = tmp_path / "apidoc.js"
    source.write_bytes(js)
    target = sources.import_schema(str(source), "9.1.11-node", directory=tmp_path / "apidoc")
    assert sources.sha256(target.read_bytes()) == sources.sha256(tree)
    local = json.loads((tmp_path / "apidoc" / "local.json").read_text())
    assert local["versions"]["9.1.11-node"]["file"] == target.name


def test_the_shipped_trees_match_their_pins() -> None:
    pins = sources.manifest(SHARED)["versions"]
    for info in pins.values():
        assert sources.sha256((SHARED / info["file"]).read_bytes()) == info["sha256"]


def test_unknown_version_is_a_clear_error() -> None:
    with pytest.raises(SchemaError, match=r"unknown schema '7\.0'"):
        sources.resolve("7.0")


def test_install_leaves_locally_imported_versions_alone(tmp_path: Path) -> None:
    tree = (SHARED / "pve-9.1.11.json").read_bytes()
    target = tmp_path / "apidoc"
    _manifest(target, sources.sha256(tree))
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "pve-t.json").write_bytes(tree)
    source = tmp_path / "node.json"
    source.write_bytes(tree)
    sources.import_schema(str(source), "mine", directory=target)
    assert sources.install(mirror, directory=target, log=lambda _m: None) == ["t"]
    assert "mine" in sources.manifest(target)["versions"]
