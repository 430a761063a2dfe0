"""HA rules as pve-ha-manager 9.x keeps them (src/PVE/API2/HA/Rules.pm, src/PVE/HA/Rules.pm and
Rules/*.pm): node-affinity rules place resources on ``nodes`` (``strict`` or preferred), resource-affinity
rules keep their ``resources`` together (``positive``) or apart (``negative``). A write is refused when its
resources are not HA-managed or its nodes not members, and when the rule set would be infeasible (the
plugins' checks, each blaming the ``resources`` of the rules involved); reads name each rule's ``order``
and the ``errors`` a rule has."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ....errors import PVEError
from ....schema.perl import split_list
from ..state import Cluster
from . import defaults
from .act import MODIFIED, Act
from .values import section_digest

RULES = "/cluster/ha/rules"
Errors = dict[str, list[str]]  # rule id -> messages (all about its 'resources', as PVE blames them)


def resources(rule: Mapping[str, Any]) -> set[str]:
    return set(split_list(str(rule.get("resources") or "")))


def nodes(rule: Mapping[str, Any]) -> dict[str, int | None]:
    """pve-ha-manager src/PVE/HA/Rules/NodeAffinity.pm:95-113: ``node[:priority]``."""
    out: dict[str, int | None] = {}
    for item in split_list(str(rule.get("nodes") or "")):
        name, _, priority = item.partition(":")
        out[name] = int(priority) if priority.isdigit() else None
    return out


def encoded(options: dict[str, Any]) -> dict[str, Any]:
    """How PVE writes a rule back (src/PVE/HA/Rules.pm:238-250, NodeAffinity.pm:115-135): resources
    sorted, nodes sorted with their priorities; a false ``disable`` is not kept (Rules.pm API :276, :328)."""
    out = dict(options)
    if "resources" in out:
        out["resources"] = ",".join(sorted(resources(out)))
    if "nodes" in out:
        out["nodes"] = ",".join(f"{n}:{p}" if p else n for n, p in sorted(nodes(out).items()))
    if not out.get("disable"):
        out.pop("disable", None)
    return out


def check_params(cluster: Cluster, options: Mapping[str, Any], prefix: str) -> None:
    """src/PVE/API2/HA/Rules.pm:45-79 (assert_valid_resources_param / _nodes_param), under the lock's prefix."""
    checks = (("resources", resources, cluster.ha, "cannot use unmanaged resource(s)"),
              ("nodes", lambda o: set(nodes(o)), cluster.nodes, "cannot use non-existent node(s)"))
    for key, named, known, text in checks:
        if key not in options:
            continue
        wanted = named(options)
        if not wanted:
            raise PVEError(500, f"{prefix}: no {key} were specified\n")
        unknown = sorted(n for n in wanted if n not in known)
        if unknown:
            raise PVEError(500, f"{prefix}: {text} {', '.join(unknown)}.\n")


def assert_feasible(cluster: Cluster, rules: Mapping[str, Mapping[str, Any]], ruleid: str, prefix: str) -> None:
    """src/PVE/API2/HA/Rules.pm:111-137: the rule's errors as a 400 exception, which lock_ha_domain
    (src/PVE/HA/Config.pm:317) turns into a plain die of its string form (pve-common Exception.pm:98-115)."""
    messages = infeasible(rules, len(cluster.nodes)).get(ruleid)
    if messages:
        raise PVEError(500, f"{prefix}: 400 Rule '{ruleid}' is invalid.\nresources: {', '.join(messages)}\n")


def listed(cluster: Cluster, rules: Mapping[str, Mapping[str, Any]], wanted_type: Any,
           wanted_resource: Any, digest: str) -> list[dict[str, Any]]:
    """GET /cluster/ha/rules (src/PVE/API2/HA/Rules.pm:175-205): in order, with each rule's errors."""
    errors = infeasible(rules, len(cluster.nodes))
    out = []
    for order, (ruleid, rule) in enumerate(rules.items(), start=1):
        if wanted_type and rule.get("type") != wanted_type:
            continue
        if wanted_resource and str(wanted_resource) not in resources(rule):
            continue
        out.append(shown(ruleid, rule, order, digest, errors.get(ruleid)))
    return out


def shown(ruleid: str, rule: Mapping[str, Any], order: int, digest: str, errors: list[str] | None) -> dict[str, Any]:
    """src/PVE/API2/HA/Rules.pm:22-43 (get_api_ha_rule)."""
    out: dict[str, Any] = {"rule": ruleid, **rule, "digest": digest, "order": order}
    if rule.get("type") == "node-affinity":
        out.setdefault("strict", 0)  # set_rule_defaults (Rules.pm:274-289) sets defaults that are true only
        if not out["strict"]:
            del out["strict"]
    if errors:
        out["errors"] = {"resources": ", ".join(errors)}
    return out


def order_of(rules: Mapping[str, Any], ruleid: str) -> int:
    return list(rules).index(ruleid) + 1


# --- the operations (the store's section handling calls these for the rules' collection) -----------------

def create(act: Act, ident: str, item: dict[str, Any]) -> None:
    """src/PVE/API2/HA/Rules.pm:264-302 (its duplicate check is the store's, with the same prefix)."""
    prefix = "create ha rule failed"
    check_params(act.cluster, item, prefix)
    rules = {**act.section(), ident: encoded(item)}
    assert_feasible(act.cluster, rules, ident, prefix)
    act.writable()[ident] = rules[ident]


def update(act: Act, ident: str, changes: dict[str, Any], removed: list[str]) -> None:
    """src/PVE/API2/HA/Rules.pm:318-362: everything under the lock, so every text has its prefix."""
    prefix = "update HA rules failed"
    section = act.section()
    digest = act.params.get("digest")
    if digest and digest != section_digest(section):
        raise PVEError(500, f"{prefix}: {MODIFIED}")
    if ident not in section:
        raise PVEError(500, f"{prefix}: HA rule '{ident}' does not exist\n")
    check_params(act.cluster, changes, prefix)
    both = sorted(set(removed) & set(changes))
    if both:  # pve-common src/PVE/SectionConfig.pm delete_from_config
        raise PVEError(500, f"{prefix}: cannot set and delete property '{both[0]}' at the same time!\n")
    for key in removed:
        if key in ("resources", "nodes", "affinity", "type"):
            raise PVEError(500, f"{prefix}: unable to delete required option '{key}'\n")
    rule = {k: v for k, v in section[ident].items() if k not in removed}
    rule = encoded({**rule, **changes})
    rules = {**section, ident: rule}
    assert_feasible(act.cluster, rules, ident, prefix)
    act.writable()[ident] = rule


def listing(act: Act) -> list[dict[str, Any]]:
    section = act.section()
    return listed(act.cluster, section, act.params.get("type"), act.params.get("resource"),
                  section_digest(section))


def read(act: Act, ident: str) -> dict[str, Any]:
    """src/PVE/API2/HA/Rules.pm:236-248."""
    section = act.section()
    if ident not in section:
        raise PVEError(500, f"no such ha rule '{ident}'\n")
    errors = infeasible(section, len(act.cluster.nodes)).get(ident)
    return shown(ident, section[ident], order_of(section, ident), section_digest(section), errors)


# --- feasibility: the checks of the rule plugins, then the global ones (Rules.pm:376-392) -------------------

def infeasible(rules: Mapping[str, Mapping[str, Any]], node_count: int) -> Errors:
    enabled = {i: r for i, r in rules.items() if not r.get("disable")}
    affinity = {i: r for i, r in enabled.items() if r.get("type") == "node-affinity"}
    together = {i: r for i, r in enabled.items() if r.get("type") == "resource-affinity"}
    positive = {i: r for i, r in together.items() if r.get("affinity") == "positive"}
    negative = {i: r for i, r in together.items() if r.get("affinity") == "negative"}
    errors: Errors = {}

    def blame(ruleids: Iterable[str], message: str) -> None:
        for ruleid in sorted(ruleids):
            errors.setdefault(ruleid, []).append(message)

    # NodeAffinity.pm:206-248
    users: dict[str, list[str]] = {}
    for ruleid, rule in affinity.items():
        for sid in resources(rule):
            users.setdefault(sid, []).append(ruleid)
    for sid, ruleids in sorted(users.items()):
        if len(ruleids) > 1:
            for ruleid in ruleids:
                blame([ruleid], f"resource '{sid}' is already used in another node affinity rule")
    # ResourceAffinity.pm:147-174, :187-219, :234-282
    blame([i for i, r in together.items() if len(resources(r)) < 2],
          "rule is ineffective as there are less than two resources")
    blame([i for i, r in negative.items() if len(resources(r)) > node_count],
          "rule defines more resources than available nodes")
    merged = _disjoint(positive)
    for ruleids, members in merged:
        clashing = [i for i, r in negative.items() if len(members & resources(r)) >= 2]
        if clashing:
            blame(clashing, "rule shares two or more resources with a positive resource affinity rule")
            blame(ruleids, "rule shares two or more resources with a negative resource affinity rule")
    # Rules.pm:591-666: resource affinity and node affinity rules with several priorities
    for ruleid, rule in sorted(together.items()):
        paired = [i for i, a in affinity.items() if resources(rule) & resources(a)]
        if any(len(set(nodes(affinity[i]).values())) > 1 for i in paired):
            blame([ruleid], "resources are in node affinity rules with multiple priorities")
            blame(paired, "resources are in a resource affinity rule and cannot be in a node affinity rule with "
                          "multiple priorities")
    # Rules.pm:680-740: a positive set in more than one node affinity rule
    for ruleids, members in merged:
        paired = [i for i, a in affinity.items() if members & resources(a)]
        if len(paired) > 1:
            blame(ruleids, "resources are in multiple node affinity rules")
            blame(paired, "at least one resource is in a positive resource affinity rule and there are other "
                          "resources in at least one other node affinity rule already")
    # Rules.pm:755-818: a negative rule's resources confined to fewer nodes than there are of them
    for ruleid, rule in sorted(negative.items()):
        located: set[str] = set()
        allowed: set[str] = set()
        paired = []
        for other, a in affinity.items():
            common = resources(rule) & resources(a)
            if common:
                located |= common
                allowed |= set(nodes(a))
                paired.append(other)
        if len(allowed) < len(located):
            blame([ruleid], "two or more resources are restricted to less nodes than available to the resources")
            blame(paired, "at least one resource is in a negative resource affinity rule and this rule would "
                          "restrict these to less nodes than available to the resources")
    return errors


def _disjoint(positive: Mapping[str, Mapping[str, Any]]) -> list[tuple[list[str], set[str]]]:
    """src/PVE/HA/Rules/Helpers.pm find_disjoint_rules_resource_sets: positive rules sharing a resource
    act as one."""
    groups: list[tuple[list[str], set[str]]] = []
    for ruleid, rule in sorted(positive.items()):
        members = resources(rule)
        ruleids = [ruleid]
        for other in [g for g in groups if g[1] & members]:
            groups.remove(other)
            ruleids += other[0]
            members |= other[1]
        groups.append((sorted(ruleids), members))
    return groups


def together_with(rules: Mapping[str, Mapping[str, Any]], sid: str) -> tuple[set[str], set[str]]:
    """src/PVE/HA/Rules/ResourceAffinity.pm:461-501 get_affinitive_resources: the resources kept with
    ``sid`` (positive) and apart from it (negative), over the enabled rules."""
    with_it: set[str] = set()
    apart: set[str] = set()
    for rule in rules.values():
        members = resources(rule)
        if rule.get("disable") or rule.get("type") != "resource-affinity" or sid not in members:
            continue
        (with_it if rule.get("affinity") == "positive" else apart).update(members - {sid})
    return with_it, apart


def drop_resource(cluster: Cluster, sid: str) -> None:
    """src/PVE/HA/Config.pm:450-458: ``purge`` takes a deleted resource out of every rule, and a rule left
    without resources goes."""
    if not any(sid in resources(r) for r in defaults.section(cluster, RULES, {}).values()):
        return
    rules = defaults.writable(cluster, RULES, {})
    for ruleid in list(rules):
        left = resources(rules[ruleid]) - {sid}
        if left == resources(rules[ruleid]):
            continue
        if left:
            rules[ruleid]["resources"] = ",".join(sorted(left))
        else:
            del rules[ruleid]
