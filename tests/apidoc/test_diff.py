"""``pvegateway apidoc diff``: what an upgrade changes, on the real 9.1.11 -> 9.2 trees and on tiny crafted
trees where each kind of change is known exactly."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import pytest

from pvegateway.cli import main

Tree = dict[str, dict[str, dict[str, Any]]]  # path -> method -> info


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(["apidoc", "diff", *argv]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    return captured.out


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(_run(capsys, *argv, "--json"))
    return result


# --- the real trees -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real() -> tuple[dict[str, Any], str]:
    """(JSON, text) of 9.1.11 -> 9.2, computed once for this module (capsys is per test)."""
    outputs = []
    for extra in (["--json"], []):
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            assert main(["apidoc", "diff", "9.1.11", "9.2", *extra]) == 0
        outputs.append(buffer.getvalue())
    return json.loads(outputs[0]), outputs[1]


def _changed(data: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    found = [op for op in data["changed"] if (op["method"], op["path"]) == (method, path)]
    assert len(found) == 1, f"{method} {path} not among the changed operations"
    result: dict[str, Any] = found[0]
    return result


def test_real_diff_accounts_for_every_operation(real: tuple[dict[str, Any], str]) -> None:
    data, _text = real
    assert data["from"] == {"version": "9.1.11", "operations": 650}
    assert data["to"] == {"version": "9.2", "operations": 676}
    summary = data["summary"]
    assert summary["added"] == len(data["added"]) == 26
    assert summary["removed"] == len(data["removed"]) == 0
    assert summary["added"] - summary["removed"] == 676 - 650
    assert summary["changed"] == len(data["changed"]) == 109
    assert {"method": "POST", "path": "/cluster/qemu/custom-cpu-models", "name": "create"} in data["added"]
    assert {"method": "GET", "path": "/cluster/sdn/route-maps", "name": "list_route_maps"} in data["added"]


def test_real_diff_details_of_changed_parameters(real: tuple[dict[str, Any], str]) -> None:
    data, _text = real
    fabric = _changed(data, "POST", "/cluster/sdn/fabrics/fabric")["parameters"]
    protocol = next(p for p in fabric["changed"] if p["name"] == "protocol")
    assert protocol["changes"] == [{"field": "enum", "kind": "enum", "added": ["wireguard", "bgp"], "removed": []}]
    added = {p["name"]: p["required"] for p in fabric["added"]}
    assert added == {"persistent_keepalive": False, "redistribute": True, "route_filter": False}

    crs = next(p for p in _changed(data, "PUT", "/cluster/options")["parameters"]["changed"] if p["name"] == "crs")
    assert {"field": "format.ha-auto-rebalance-margin.default", "kind": "changed", "before": 0.1,
            "after": 10} in crs["changes"]
    assert {"field": "format.ha-auto-rebalance-margin.maximum", "kind": "added", "after": 100} in crs["changes"]

    backup = _changed(data, "POST", "/cluster/backup")["parameters"]
    assert [p["name"] for p in backup["removed"]] == ["maxfiles"]

    # net0..net31-style families are folded back to PVE's own name
    lxc = _changed(data, "POST", "/nodes/{node}/lxc")["parameters"]["changed"]
    mount = next(p for p in lxc if p["name"] == "mp[n]")
    assert mount["changes"] == [{"field": "format.idmap", "kind": "added", "after": mount["changes"][0]["after"]}]

    mon = _changed(data, "GET", "/nodes/{node}/ceph/mon")["changes"]
    assert {"field": "returns.items.properties.host.type", "kind": "changed", "before": "boolean",
            "after": "string"} in mon


def test_real_text_matches_the_json(real: tuple[dict[str, Any], str]) -> None:
    data, text = real
    lines = text.splitlines()
    s = data["summary"]
    assert lines[0] == (f"apidoc diff 9.1.11 -> 9.2: 650 -> 676 operations; {s['added']} added, {s['removed']} "
                        f"removed, {s['changed']} changed ({s['parameters_added']} parameters added, "
                        f"{s['parameters_removed']} removed, {s['parameters_changed']} changed)")
    assert f"Added operations ({s['added']}):" in lines
    assert "Removed operations: none" in lines
    assert f"Changed operations ({s['changed']}):" in lines
    section = lines.index(f"Added operations ({s['added']}):")
    assert lines[section + 1: section + 1 + s["added"]] == [f"  {op['method']:<7}{op['path']}" for op in data["added"]]
    operation_lines = [line for line in lines if line.startswith("  ") and not line.startswith("    ")]
    changed_lines = operation_lines[s["added"]:]
    assert changed_lines == [f"  {op['method']:<7}{op['path']}" for op in data["changed"]]
    for op in data["changed"]:
        for kind, mark in (("added", "+"), ("removed", "-"), ("changed", "~")):
            for param in op["parameters"][kind]:
                assert any(line.startswith(f"    {mark} parameter {param['name']}") for line in lines)
    assert "        enum: values added wireguard, bgp" in lines


def test_a_version_against_itself_is_empty(capsys: pytest.CaptureFixture[str]) -> None:
    data = _json(capsys, "9.2", "9.2")
    assert data["summary"] == {"added": 0, "removed": 0, "changed": 0, "parameters_added": 0,
                               "parameters_removed": 0, "parameters_changed": 0}
    assert data["added"] == data["removed"] == data["changed"] == []
    text = _run(capsys, "9.2", "9.2", "--descriptions")
    assert text.splitlines()[0].endswith("0 added, 0 removed, 0 changed (0 parameters added, 0 removed, 0 changed)")
    assert "Changed operations: none" in text


def test_descriptions_are_only_reported_when_asked(capsys: pytest.CaptureFixture[str]) -> None:
    plain = _json(capsys, "9.1.11", "9.2")
    wordy = _json(capsys, "9.1.11", "9.2", "--descriptions")
    assert wordy["summary"]["changed"] > plain["summary"]["changed"]
    fields = [c["field"] for op in wordy["changed"] for c in op["changes"]]
    assert "permissions.description" in fields
    assert not any(c["field"].endswith("description") for op in plain["changed"] for c in op["changes"])


# --- crafted trees -------------------------------------------------------------------------------------


def _param(type_: str = "string", **extra: Any) -> dict[str, Any]:
    return {"type": type_, "description": "A parameter.", **extra}


def _info(method: str, properties: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"method": method, "name": method.lower(), "description": "An operation.", "allowtoken": 1,
            "parameters": {"additionalProperties": 0, "properties": properties},
            "returns": {"type": "null"}, "permissions": {"check": ["perm", "/", ["Sys.Audit"]]}, **extra}


def _write(path: Path, tree: Tree) -> str:
    """Write an apidoc tree: nodes nested by path under their parent node, like PVE's dump."""
    nodes: dict[str, dict[str, Any]] = {}
    roots: list[dict[str, Any]] = []
    for node_path in sorted(tree):
        node: dict[str, Any] = {"path": node_path, "text": node_path.rsplit("/", 1)[-1], "leaf": 1,
                                "info": tree[node_path]}
        nodes[node_path] = node
        parent = nodes.get(node_path.rsplit("/", 1)[0])
        if parent is None:
            roots.append(node)
        else:
            parent.pop("leaf", None)
            parent.setdefault("children", []).append(node)
    path.write_text(json.dumps(roots))
    return str(path)


def _base() -> Tree:
    return {
        "/things": {"GET": _info("GET", {}), "POST": _info("POST", {
            "name": _param(pattern="[a-z]+"),
            "size": _param("integer", minimum=1, maximum=10, optional=1),
            "kind": _param(enum=["a", "b", "c"], optional=1, default="a"),
            "mode": _param(format="pve-configid"),
            "conf": _param(format={"speed": _param("integer", optional=1), "model": _param(enum=["x", "y"])},
                           optional=1),
            "old": _param("boolean", optional=1),
            "disk[n]": _param(description="A disk, n is 0 to 3.", optional=1),
        }, protected=1)},
        "/things/{id}": {"GET": _info("GET", {"id": _param("integer")},
                                      returns={"type": "object", "properties": {"id": _param("integer")}}),
                         "DELETE": _info("DELETE", {"id": _param("integer")})},
    }


def _diff_trees(tmp_path: Path, capsys: pytest.CaptureFixture[str], before: Tree, after: Tree,
                *extra: str) -> dict[str, Any]:
    return _json(capsys, _write(tmp_path / "pve-old.json", before), _write(tmp_path / "pve-new.json", after),
                 *extra)


def test_crafted_operations_added_and_removed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    after = _base()
    del after["/things/{id}"]["DELETE"]
    after["/things/{id}"]["PUT"] = _info("PUT", {"id": _param("integer")})
    after["/things/{id}/status"] = {"GET": _info("GET", {"id": _param("integer")})}
    data = _diff_trees(tmp_path, capsys, _base(), after)
    assert data["from"] == {"version": "old", "operations": 5}  # the tree's four and GET /
    assert data["to"] == {"version": "new", "operations": 6}
    assert data["added"] == [{"method": "PUT", "path": "/things/{id}", "name": "put"},
                             {"method": "GET", "path": "/things/{id}/status", "name": "get"}]
    assert data["removed"] == [{"method": "DELETE", "path": "/things/{id}", "name": "delete"}]
    assert data["changed"] == []


def test_crafted_parameter_changes_of_every_kind(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    after = _base()
    props = after["/things"]["POST"]["parameters"]["properties"]
    props["name"] = _param(pattern="[a-z0-9]+", optional=1)                       # pattern, required -> optional
    props["size"] = _param("number", minimum=0, maximum=10, optional=1)           # type, minimum
    props["kind"] = _param(enum=["a", "c", "d"], default="c")                     # enum, default, now required
    props["mode"] = _param(format="pve-storage-id")                               # named format
    props["conf"]["format"] = {"speed": _param("integer", optional=1, maximum=100),
                               "model": _param(enum=["x", "y"]), "mtu": _param("integer", optional=1)}
    del props["old"]
    props["new"] = _param("boolean", optional=1, default=0)
    props["disk[n]"] = _param(description="A disk, n is 0 to 5.", optional=1)     # range 0-3 -> 0-5
    data = _diff_trees(tmp_path, capsys, _base(), after)
    (op,) = data["changed"]
    assert (op["method"], op["path"], op["changes"]) == ("POST", "/things", [])
    params = op["parameters"]
    assert params["added"] == [{"name": "new", "required": False, "schema": props["new"]}]
    assert params["removed"] == [{"name": "old", "required": False, "schema": _base()["/things"]["POST"][
        "parameters"]["properties"]["old"]}]
    changes = {p["name"]: p["changes"] for p in params["changed"]}
    assert changes == {
        "conf": [{"field": "format.mtu", "kind": "added", "after": props["conf"]["format"]["mtu"]},
                 {"field": "format.speed.maximum", "kind": "added", "after": 100}],
        "disk[n]": [{"field": "indexes", "kind": "changed", "before": 4, "after": 6}],
        "kind": [{"field": "default", "kind": "changed", "before": "a", "after": "c"},
                 {"field": "enum", "kind": "enum", "added": ["d"], "removed": ["b"]},
                 {"field": "optional", "kind": "changed", "before": True, "after": False}],
        "mode": [{"field": "format", "kind": "changed", "before": "pve-configid", "after": "pve-storage-id"}],
        "name": [{"field": "optional", "kind": "changed", "before": False, "after": True},
                 {"field": "pattern", "kind": "changed", "before": "[a-z]+", "after": "[a-z0-9]+"}],
        "size": [{"field": "minimum", "kind": "changed", "before": 1, "after": 0},
                 {"field": "type", "kind": "changed", "before": "integer", "after": "number"}],
    }
    assert data["summary"] == {"added": 0, "removed": 0, "changed": 1, "parameters_added": 1,
                               "parameters_removed": 1, "parameters_changed": 6}

    text = _run(capsys, str(tmp_path / "pve-old.json"), str(tmp_path / "pve-new.json")).splitlines()
    assert text[0] == ("apidoc diff old -> new: 5 -> 5 operations; 0 added, 0 removed, 1 changed "
                       "(1 parameters added, 1 removed, 6 changed)")
    body = text[text.index("Changed operations (1):") + 1:]
    assert body == [
        "  POST   /things",
        "    ~ parameter conf",
        "        format.mtu: added (integer, optional)",
        "        format.speed.maximum: added 100",
        "    ~ parameter disk[n]",
        "        indexes: 4 -> 6",
        "    ~ parameter kind",
        "        default: 'a' -> 'c'",
        "        enum: values added d; removed b",
        "        optional -> required",
        "    ~ parameter mode",
        "        format: 'pve-configid' -> 'pve-storage-id'",
        "    ~ parameter name",
        "        required -> optional",
        "        pattern: '[a-z]+' -> '[a-z0-9]+'",
        "    + parameter new: boolean, optional, default 0",
        "    - parameter old: boolean, optional",
        "    ~ parameter size",
        "        minimum: 1 -> 0",
        "        type: 'integer' -> 'number'",
    ]


def test_crafted_returns_permissions_and_flags(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    after = _base()
    item = after["/things/{id}"]["GET"]
    item["returns"] = {"type": "object", "properties": {"id": _param("string"), "size": _param("integer",
                                                                                                optional=1)}}
    item["permissions"] = {"check": ["perm", "/things/{id}", ["Sys.Audit"]]}
    after["/things"]["POST"]["protected"] = 0
    after["/things"]["POST"]["proxyto"] = "node"
    data = _diff_trees(tmp_path, capsys, _base(), after)
    changes = {(op["method"], op["path"]): op["changes"] for op in data["changed"]}
    assert changes == {
        ("POST", "/things"): [{"field": "protected", "kind": "changed", "before": True, "after": False},
                              {"field": "proxyto", "kind": "changed", "before": None, "after": "node"}],
        ("GET", "/things/{id}"): [
            {"field": "returns.properties.id.type", "kind": "changed", "before": "integer", "after": "string"},
            {"field": "returns.properties.size", "kind": "added", "after": item["returns"]["properties"]["size"]},
            {"field": "permissions.check", "kind": "changed", "before": ["perm", "/", ["Sys.Audit"]],
             "after": ["perm", "/things/{id}", ["Sys.Audit"]]},
        ],
    }
    text = _run(capsys, str(tmp_path / "pve-old.json"), str(tmp_path / "pve-new.json"))
    assert "    ~ returns.properties.id.type: 'integer' -> 'string'\n" in text
    assert '    ~ permissions.check: ["perm","/",["Sys.Audit"]] -> ["perm","/things/{id}",["Sys.Audit"]]\n' in text


def test_crafted_description_changes_need_the_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    after = _base()
    after["/things"]["GET"]["description"] = "Lists things."
    after["/things"]["POST"]["parameters"]["properties"]["name"]["description"] = "The name."
    after["/things"]["POST"]["parameters"]["properties"]["name"]["typetext"] = "<name>"
    assert _diff_trees(tmp_path, capsys, _base(), after)["changed"] == []
    data = _diff_trees(tmp_path, capsys, _base(), after, "--descriptions")
    assert data["descriptions"] is True
    assert [(op["method"], op["path"]) for op in data["changed"]] == [("GET", "/things"), ("POST", "/things")]
    assert data["changed"][0]["changes"] == [{"field": "description", "kind": "changed",
                                              "before": "An operation.", "after": "Lists things."}]
    assert data["changed"][1]["parameters"]["changed"] == [{"name": "name", "changes": [
        {"field": "description", "kind": "changed", "before": "A parameter.", "after": "The name."},
        {"field": "typetext", "kind": "added", "after": "<name>"}]}]


def test_crafted_one_of_alternatives_pair_by_instance_type(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    def interfaces(*alternatives: dict[str, Any]) -> dict[str, Any]:
        return {"type-property": "protocol", "oneOf": list(alternatives)}

    ospf = {"instance-types": ["ospf"], "type": "array", "items": _param(enum=["a"])}
    before, after = _base(), _base()
    before["/things"]["GET"]["parameters"]["properties"]["ifaces"] = interfaces(ospf)
    after["/things"]["GET"]["parameters"]["properties"]["ifaces"] = interfaces(
        {"instance-types": ["bgp"], "type": "string"}, {**ospf, "items": _param(enum=["a", "b"])})
    data = _diff_trees(tmp_path, capsys, before, after)
    (param,) = data["changed"][0]["parameters"]["changed"]
    assert param["changes"] == [
        {"field": "oneOf[bgp]", "kind": "added", "after": {"instance-types": ["bgp"], "type": "string"}},
        {"field": "oneOf[ospf].items.enum", "kind": "enum", "added": ["b"], "removed": []},
    ]


def test_unknown_version_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["apidoc", "diff", "9.2", "7.0"]) == 1
    assert "unknown schema '7.0'" in capsys.readouterr().err
