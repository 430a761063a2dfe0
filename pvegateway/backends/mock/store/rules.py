"""Positional lists: firewall rules at cluster, security group, node, guest and vnet level, as pve-firewall's
RulesBase keeps them (src/PVE/API2/Firewall/Rules.pm): a new rule goes first, positions are list
indexes, every rule answered carries its ``pos`` and the list's ``digest``.
"""

from __future__ import annotations

from typing import Any

from ....errors import PVEError
from .act import MODIFIED, Act
from .firewall import verify_rule
from .layout import place
from .values import deleted, kept, list_digest

_REQUIRED = ("type", "action")


def _rules(act: Act) -> list[dict[str, Any]]:
    return act.cluster.store.lists.get(place(act.plan.where, act.params), [])


def _shown(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rules.pm:196-201 copy_list_with_digest, then ``pos`` by index."""
    digest = list_digest(rules)
    return [{**rule, "digest": digest, "pos": index} for index, rule in enumerate(rules)]


def _position(act: Act, rules: list[dict[str, Any]]) -> int:
    pos = int(act.params["pos"])
    if pos >= len(rules):  # Rules.pm:241, :372-373, :461-462
        raise PVEError(500, f"no rule at position {pos}\n")
    return pos


def _check_digest(act: Act, rules: list[dict[str, Any]]) -> None:
    digest = act.params.get("digest")  # Rules.pm:369-370, :458-459
    if digest and digest != list_digest(rules):
        raise PVEError(500, MODIFIED)


def _copy(rule: dict[str, Any], act: Act) -> None:
    """Firewall.pm:1939-1953 copy_rule_data: a value of '' or '-' removes the property."""
    for key, value in kept(act.op, act.params, ("pos", "moveto")).items():
        if value in ("", "-"):
            rule.pop(key, None)
        else:
            rule[key] = value


def listing(act: Act) -> list[dict[str, Any]]:
    return _shown(_rules(act))


def read(act: Act) -> dict[str, Any]:
    rules = _rules(act)
    return _shown(rules)[_position(act, rules)]


def insert(act: Act) -> None:
    """Rules.pm:287-308: the rule is built from the parameters, checked (Firewall.pm verify_rule),
    ``enable`` 0 unless given, and put first
    (``unshift``: a ``pos`` given to a create is copied with the rule's data, not used to place it)."""
    rule: dict[str, Any] = {}
    _copy(rule, act)
    verify_rule(act.mock, act.params, act.plan.where, rule)
    rule.setdefault("enable", 0)
    act.cluster.store.lists.setdefault(place(act.plan.where, act.params), []).insert(0, rule)


def update(act: Act) -> None:
    rules = _rules(act)
    _check_digest(act, rules)
    pos = _position(act, rules)
    moveto = act.params.get("moveto")
    if moveto is not None and int(moveto) != pos:  # Rules.pm:377-388
        rule = rules.pop(pos)
        target = int(moveto)
        # PVE rebuilds the list, putting the rule before what was at ``moveto`` (counted with the rule
        # still in place), or last when ``moveto`` is past the end
        if target > len(rules):
            rules.append(rule)
        else:
            rules.insert(target - 1 if target > pos else target, rule)
        return
    removed = deleted(act.params)
    props = act.op.parameters.get("properties") or {}
    for key in removed:  # Firewall.pm:1648-1660 delete_rule_properties
        if key not in props or key in ("delete", "digest", "moveto") or (key in act.op.path_params and key != "pos"):
            raise PVEError.params({"delete": f"no such property ('{key}')"})
        if key in _REQUIRED:
            raise PVEError.params({"delete": f"unable to delete required property '{key}'"})
    rule = dict(rules[pos])  # a copy: a rule that fails verify_rule leaves the list as it was
    _copy(rule, act)
    for key in removed:
        rule.pop(key, None)
    verify_rule(act.mock, act.params, act.plan.where, rule)  # Rules.pm:401-403
    rules[pos] = rule


def remove(act: Act) -> None:
    rules = _rules(act)
    _check_digest(act, rules)
    del rules[_position(act, rules)]
