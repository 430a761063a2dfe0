"""``pvegateway apidoc list``: every known version with its state, operation count, sha256, file and the
default, in text and JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pvegateway.apidoc.sources import sha256
from pvegateway.cli import main

SHIPPED = Path(__file__).resolve().parents[2] / "apidoc"


def _list(capsys: pytest.CaptureFixture[str], *extra: str) -> str:
    assert main(["apidoc", "list", *extra]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    return captured.out


def test_the_shipped_versions(capsys: pytest.CaptureFixture[str]) -> None:
    data = json.loads(_list(capsys, "--json"))
    assert data["default"] == "9.2"
    rows = {v["version"]: v for v in data["versions"]}
    assert [v["version"] for v in data["versions"]] == ["9.1.11", "9.2"]
    for name, operations in (("9.1.11", 649), ("9.2", 675)):
        row = rows[name]
        assert (row["state"], row["origin"], row["operations"], row["default"]) == \
            ("installed", "pinned", operations, name == "9.2")
        assert row["sha256"] == row["pinned_sha256"] == sha256(Path(row["file"]).read_bytes())

    text = _list(capsys).splitlines()
    assert text[1].split() == ["VERSION", "STATE", "OPS", "NODES", "SHA256", "ORIGIN", "FILE"]
    assert text[2].split() == ["9.1.11", "installed", "649", "435", rows["9.1.11"]["sha256"][:12], "pinned",
                               rows["9.1.11"]["file"]]
    assert text[3].split() == ["9.2", "*", "installed", "675", "449", rows["9.2"]["sha256"][:12], "pinned",
                               rows["9.2"]["file"]]


def _tree(*paths: str) -> bytes:
    """A small tree: one GET per path, flat."""
    nodes = [{"path": p, "text": p, "leaf": 1, "info": {"GET": {"method": "GET", "name": "x", "parameters": {},
                                                               "returns": {}}}} for p in paths]
    return json.dumps(nodes).encode()


def test_every_state_and_counts_from_the_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """Recorded counts are used for pinned bytes; anything else (imports, modified files) is counted."""
    good, edited, imported = _tree("/a", "/b"), _tree("/a", "/b", "/c"), _tree("/a")
    (tmp_path / "pve-9.2.json").write_bytes(good)
    (tmp_path / "pve-9.10.json").write_bytes(edited)
    (tmp_path / "pve-mine.json").write_bytes(imported)
    versions: dict[str, Any] = {
        "9.2": {"file": "pve-9.2.json", "sha256": sha256(good), "operations": 2, "nodes": 2},
        "9.10": {"file": "pve-9.10.json", "sha256": sha256(good), "operations": 2, "nodes": 2},
        "8.4": {"file": "pve-8.4.json", "sha256": "0" * 64},
    }
    (tmp_path / "sources.json").write_text(json.dumps({"default": "9.10", "versions": versions}))
    (tmp_path / "local.json").write_text(json.dumps({"versions": {
        "mine": {"file": "pve-mine.json", "sha256": sha256(imported)}}}))
    monkeypatch.setenv("PVEGATEWAY_APIDOC_DIR", str(tmp_path))

    data = json.loads(_list(capsys, "--json"))
    assert data["directory"] == str(tmp_path)
    assert data["default"] == "9.10"
    summary = [(v["version"], v["state"], v["origin"], v["operations"], v["nodes"], v["default"], v["sha256"])
               for v in data["versions"]]
    assert summary == [
        ("8.4", "missing", "pinned", None, None, False, None),
        ("9.2", "installed", "pinned", 2, 2, False, sha256(good)),
        ("9.10", "modified", "pinned", 3, 3, True, sha256(edited)),
        ("mine", "installed", "imported", 1, 1, False, sha256(imported)),
    ]
    assert data["versions"][2]["pinned_sha256"] == sha256(good)
    assert data["versions"][2]["file"] == str(tmp_path / "pve-9.10.json")

    text = _list(capsys).splitlines()
    assert text[0] == f"apidoc directory {tmp_path}; * marks the default (9.10)"
    assert [line.split()[:5] for line in text[2:]] == [
        ["8.4", "missing", "-", "-", "-"],
        ["9.2", "installed", "2", "2", sha256(good)[:12]],
        ["9.10", "*", "modified", "3", "3"],
        ["mine", "installed", "1", "1", sha256(imported)[:12]],
    ]
