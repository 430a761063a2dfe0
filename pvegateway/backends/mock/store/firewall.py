"""The firewall's configuration as pve-firewall keeps it (src/PVE/Firewall.pm, src/PVE/API2/Firewall/),
at cluster, security group, node, VM, CT and vnet level: aliases, IP sets and their entries, security
groups, references, the log, the indexes, and the checks a rule's source and destination pass.

Kept in the store by place (:mod:`.data`): aliases as a collection keyed by the lowercased name
(``<fw>/aliases``), IP set names with their comments (``<fw>/ipset``) and each set's entries as a list
(``<fw>/ipset/<name>``), security groups with their comments (``/cluster/firewall/groups``) and their
rules (``/cluster/firewall/groups/<group>``); rules (:mod:`.rules`) and options (:mod:`.singletons`)
are the store's generic kinds.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from ....errors import PVEError
from ....schema.perl import truthy
from ...base import Call, Result
from ..runtime import Mock
from .act import MODIFIED
from .layout import place
from .texts import FIREWALL
from .values import list_digest

View = Callable[[Mock, Call], Any]
Section = dict[str, dict[str, Any]]

CLUSTER = "/cluster/firewall"
GROUPS = CLUSTER + "/groups"
# each firewall level's path and pve-firewall's name for it (its rule_env)
LEVELS: Mapping[str, str] = {
    CLUSTER: "cluster",
    "/nodes/{node}/qemu/{vmid}/firewall": "vm",
    "/nodes/{node}/lxc/{vmid}/firewall": "ct",
    "/nodes/{node}/firewall": "host",
    "/cluster/sdn/vnets/{vnet}/firewall": "vnet",
}
_GUESTS = ("vm", "ct")
_NAME = r"[A-Za-z][A-Za-z0-9\-\_]+"  # Firewall.pm:53-55, security groups, IP sets and aliases alike
_ALIAS_REF = re.compile(rf"(dc/|guest/)?({_NAME})")
_IPSET_REF = re.compile(rf"\+(guest/|dc/|sdn/)?({_NAME})")
# Firewall.pm:1722-1738: the rule types and interfaces each level allows
_TYPES: Mapping[str, tuple[str, ...]] = {
    "vm": ("in", "out", "group"), "ct": ("in", "out", "group"), "group": ("in", "out", "forward"),
    "cluster": ("in", "out", "forward", "group"), "host": ("in", "out", "forward", "group"),
    "vnet": ("forward", "group"),
}
_NO_IFACE = frozenset({"group", "vnet"})
_ALIASES, _IPSETS, _ENTRIES, _GROUPS = (FIREWALL[k] for k in ("aliases", "ipset", "ipset/{name}", "groups"))


def env_of(template: str) -> str:
    """The rule_env of a rules list's template (a security group's rules: 'group')."""
    if template.startswith(GROUPS + "/"):
        return "group"
    return LEVELS.get(template.removesuffix("/rules"), "cluster")


def _base(template: str) -> str:
    """The level's firewall path a template is under."""
    for base in sorted(LEVELS, key=len, reverse=True):
        if template == base or template.startswith(base + "/"):
            return base
    raise ValueError(template)


def _section(mock: Mock, where: str) -> Section:
    """The collection at ``where``: the kept one itself when there is one (so the writes to an item
    known to exist go through it), else an empty one that is not kept (reads change nothing)."""
    return mock.cluster.store.sections.get(where, {})


def _writable(mock: Mock, where: str) -> Section:
    return mock.cluster.store.sections.setdefault(where, {})


def _with_digest(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Firewall.pm:1253-1281 copy_list_with_digest: the entries without undefined values, each with the
    list's digest."""
    clean = [{k: v for k, v in entry.items() if v is not None} for entry in entries]
    digest = list_digest(clean)
    return [{**entry, "digest": digest} for entry in clean]


def _commented(comment: Any) -> dict[str, Any]:
    """An IP set's or a security group's comment, as its file keeps it (``[IPSET name] # comment``:
    Firewall.pm:3776-3781; a blank one is no comment)."""
    return {"comment": str(comment)} if str(comment or "").strip() else {}


def _check_digest(given: Any, entries: list[dict[str, Any]]) -> None:
    if given and given != list_digest([{k: v for k, v in e.items() if v is not None} for e in entries]):
        raise PVEError(500, MODIFIED)  # pve-common Tools.pm assert_if_modified


# --- the configurations a level's rules can see --------------------------------------------------------

def _own_place(call: Call) -> str | None:
    """Where the called level keeps its own aliases and IP sets: a guest's, or the cluster's."""
    base = _base(call.operation.path)
    if LEVELS[base] in _GUESTS:
        return place(base, call.params)
    return CLUSTER if LEVELS[base] == "cluster" else None


def _aliases(mock: Mock, fw: str | None) -> Iterator[Section]:
    """The alias collections a level's rules may name: its own (a guest's), then the cluster's."""
    if fw is not None and fw != CLUSTER:
        yield _section(mock, fw + "/aliases")
    yield _section(mock, CLUSTER + "/aliases")


def _ipsets(mock: Mock, fw: str | None) -> Iterator[Section]:
    if fw is not None and fw != CLUSTER:
        yield _section(mock, fw + "/ipset")
    yield _section(mock, CLUSTER + "/ipset")


def _alias_exists(mock: Mock, fw: str | None, name: str, scope: str) -> bool:
    """Firewall.pm:3358-3391 resolve_alias: ``guest/`` only the guest's, ``dc/`` only the cluster's."""
    local, cluster = (fw + "/aliases", CLUSTER + "/aliases") if fw is not None and fw != CLUSTER \
        else (None, CLUSTER + "/aliases")
    if scope != "dc/" and local is not None and name.lower() in _section(mock, local):
        return True
    return scope != "guest/" and name.lower() in _section(mock, cluster)


def verify_rule(mock: Mock, params: Mapping[str, Any], template: str, rule: Mapping[str, Any]) -> None:
    """Firewall.pm:1740-1937 verify_rule, its checks of what the store can tell: the type and interface
    the level allows, the action, ports without a protocol, and aliases and IP sets that must exist
    (each a parameter error, as ``raise_param_exc``)."""
    env = env_of(template)
    fw = place(_base(template), params) if env in _GUESTS else CLUSTER

    def fail(param: str, message: str) -> None:
        raise PVEError.params({param: message})

    kind, action = rule.get("type"), rule.get("action")
    if kind:
        if kind not in _TYPES[env]:
            fail("type", f"invalid rule type '{kind}' for rule_env '{env}'")
        if kind in ("in", "out", "forward"):
            if kind == "forward" and action == "REJECT":
                fail("action", "cannot define REJECT rules on forward chain")
            if action and action not in ("ACCEPT", "DROP", "REJECT"):
                fail("action", f"unknown action '{action}'")
        elif action and not re.fullmatch(_NAME, str(action)):
            fail("action", "invalid characters in security group name")
    iface = rule.get("iface")
    if iface:
        if env in _NO_IFACE:
            fail("type", "parameter -i not allowed for this rule type")
        if env in _GUESTS and not re.fullmatch(r"net\d+", str(iface)):
            fail("iface", "value does not match the regex pattern 'net\\d+'")
    for port in ("dport", "sport"):
        if rule.get(port) and not rule.get("proto"):
            fail("proto", f"missing property - '{port}' requires this property")
    for param in ("source", "dest"):
        value = str(rule.get(param) or "")
        if value.startswith("+"):
            ipset = _IPSET_REF.fullmatch(value)
            if ipset is None:
                fail(param, f"invalid ipset name '{value}'")
            elif not any(ipset.group(2) in sets for sets in _ipsets(mock, fw)):
                fail(param, f"no such ipset '{ipset.group(2)}'")
            continue
        alias = _ALIAS_REF.fullmatch(value)
        if alias is not None and not any(alias.group(2).lower() in kept for kept in _aliases(mock, fw)):
            fail(param, f"no such alias '{value}'")


# --- aliases (src/PVE/API2/Firewall/Aliases.pm) --------------------------------------------------------

def _alias_place(call: Call) -> str:
    return place(call.operation.path.removesuffix("/{name}"), call.params)


def list_aliases(mock: Mock, call: Call) -> list[dict[str, Any]]:
    """Aliases.pm:70-77, :121-126: sorted by (lowercased) name."""
    aliases = _section(mock, _alias_place(call))
    return _with_digest([aliases[key] for key in sorted(aliases)])


def _address(value: str, param: str = "cidr") -> tuple[str, int]:
    """Firewall.pm:3393-3408 parse_ip_or_cidr: an address or network, a host's /32 or /128 left out;
    and its IP version."""
    try:
        network = ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise PVEError.params({param: "value does not look like a valid IP address or CIDR network"}) from None
    full = 32 if network.version == 4 else 128
    host, _, length = value.partition("/")
    return (host if not length or int(length) == full else value), network.version


def _clean(value: str) -> str:
    """Firewall.pm:102-114 clean_cidr then parse_ip_or_cidr: a network without its host bits, an IPv6
    address compressed (what IP set entries are kept as)."""
    network = ipaddress.ip_network(value, strict=False) if "/" in value else None
    cleaned = f"{network.network_address}/{network.prefixlen}" if network is not None else value
    return _address(cleaned)[0]


def create_alias(mock: Mock, call: Call) -> None:
    """Aliases.pm:151-168: the name keeps its case, the key is lowercased."""
    params = call.params
    where, name = _alias_place(call), str(params["name"])
    if name.lower() in _section(mock, where):
        raise _ALIASES.duplicate.error(name)
    data = _alias(params, name)
    _writable(mock, where)[name.lower()] = data


def _alias(params: Mapping[str, Any], name: str) -> dict[str, Any]:
    """An alias as host.fw/cluster.fw reads it back (Firewall.pm:3411-3433 parse_alias): its address,
    the address's IP version, a comment that is not blank."""
    cidr, version = _address(str(params["cidr"]))
    data: dict[str, Any] = {"name": name, "cidr": cidr, "ipversion": version}
    if str(params.get("comment") or "").strip():
        data["comment"] = str(params["comment"])
    return data


def read_alias(mock: Mock, call: Call) -> dict[str, Any]:
    """Aliases.pm:197-205: the alias as kept (no digest)."""
    name = str(call.params["name"])
    found = _section(mock, _alias_place(call)).get(name.lower())
    if found is None:
        raise _ALIASES.missing.error(name)
    return dict(found)


def update_alias(mock: Mock, call: Call) -> None:
    """Aliases.pm:238-274: the alias is written anew (a comment not given is gone), ``rename`` moves it."""
    params = call.params
    aliases = _section(mock, _alias_place(call))
    _check_digest(params.get("digest"), [aliases[k] for k in sorted(aliases)])
    name = str(params["name"]).lower()
    if name not in aliases:
        raise _ALIASES.missing.error(name)
    rename = str(params.get("rename") or "")
    if rename and rename.lower() != name and rename.lower() in aliases:
        raise _ALIASES.duplicate.error(rename)  # Aliases.pm:262
    data = _alias(params, str(params["name"]))
    if rename and rename.lower() != name:
        del aliases[name]
        data["name"] = rename
        aliases[rename.lower()] = data
    else:
        aliases[name] = data


def remove_alias(mock: Mock, call: Call) -> None:
    """Aliases.pm:300-316: a missing alias is no error."""
    aliases = _section(mock, _alias_place(call))
    _check_digest(call.params.get("digest"), [aliases[k] for k in sorted(aliases)])
    aliases.pop(str(call.params["name"]).lower(), None)


# --- IP sets (src/PVE/API2/Firewall/IPSet.pm) ------------------------------------------------------------

def _sets_place(call: Call) -> str:
    path = call.operation.path
    return place(path[:path.index("/ipset") + len("/ipset")], call.params)


def _named(call: Call) -> tuple[str, str]:
    return _sets_place(call), str(call.params["name"])


def _entries(mock: Mock, call: Call) -> list[dict[str, Any]]:
    """IPSet.pm load_config (:417-426 and the like): the set's entries, or 'no such IPSet'."""
    where, name = _named(call)
    if name not in _section(mock, where):
        raise _IPSETS.missing.error(name)
    entries: list[dict[str, Any]] | None = mock.cluster.store.lists.get(f"{where}/{name}")
    if entries is None:  # kept by an older mock as a collection: read as the empty set it starts as
        entries = mock.cluster.store.lists[f"{where}/{name}"] = []
    return entries


def list_sets(mock: Mock, call: Call) -> list[dict[str, Any]]:
    """IPSet.pm:577-597: the names in order, with their comments."""
    sets = _section(mock, _sets_place(call))
    return _with_digest([{"name": name, **sets[name]} for name in sorted(sets)])


def _renamed(mock: Mock, where: str, key: str, noun: str, new: str, old: str, params: Mapping[str, Any]) -> None:
    """An IP set or a security group renamed (IPSet.pm:679-700, Groups.pm:96-167): checked against the
    list's digest, never onto another; its entries or rules and its comment go with it, and a comment
    given replaces it (``new`` the same as ``old``: only that)."""
    items = _section(mock, where)
    _check_digest(params.get("digest"), [{key: n, **items[n]} for n in sorted(items)])
    if old not in items:
        raise PVEError.params({key: f"{noun} '{old}' does not exist"})
    if new in items and new != old:
        raise PVEError.params({key: f"{noun} '{new}' does already exist"})
    data = items.pop(old)
    if params.get("comment") is not None:
        data = _commented(params["comment"])
    items[new] = data
    lists = mock.cluster.store.lists
    lists[f"{where}/{new}"] = lists.pop(f"{where}/{old}", [])


def create_set(mock: Mock, call: Call) -> None:
    """IPSet.pm:669-715: a new, empty set; with ``rename``, an existing set renamed (or its comment
    changed, when ``rename`` is ``name``)."""
    params = call.params
    where, name = _named(call)
    if params.get("rename"):
        _renamed(mock, where, "name", "IPSet", name, str(params["rename"]), params)
        return
    if name in _section(mock, where):
        raise _IPSETS.duplicate.error(name)
    _writable(mock, where)[name] = _commented(params.get("comment"))
    mock.cluster.store.lists[f"{where}/{name}"] = []


def remove_set(mock: Mock, call: Call) -> None:
    """IPSet.pm:151-170: a set holding entries stays unless ``force``."""
    entries = _entries(mock, call)
    if entries and not truthy(call.params.get("force")):
        raise PVEError(500, f"IPSet '{call.params['name']}' is not empty\n")
    where, name = _named(call)
    del _section(mock, where)[name]
    mock.cluster.store.lists.pop(f"{where}/{name}", None)


def list_entries(mock: Mock, call: Call) -> list[dict[str, Any]]:
    return _with_digest(_entries(mock, call))


def create_entry(mock: Mock, call: Call) -> None:
    """IPSet.pm:200-243: an alias must exist, an address is normalized; no duplicate, no /0. PVE puts
    the new entry first and writes the set back sorted by address (Firewall.pm:3784-3801), which is
    how every later read finds it."""
    params = call.params
    entries = _entries(mock, call)
    cidr = str(params["cidr"])
    alias = _ALIAS_REF.fullmatch(cidr)
    if alias is not None:
        if not _alias_exists(mock, _own_place(call), alias.group(2), alias.group(1) or ""):
            raise PVEError(500, f"no such alias '{alias.group(2)}'\n")  # Firewall.pm:3388
    else:
        try:
            cidr = _clean(cidr)
        except ValueError:
            raise PVEError.params({"cidr": "value does not look like a valid IP address or CIDR network"}) from None
    if any(entry["cidr"] == cidr for entry in entries):
        raise _ENTRIES.duplicate.error(cidr)
    if re.search(r"/0+$", cidr):
        raise PVEError.params({"cidr": "a zero prefix is not allowed in ipset entries"})
    data: dict[str, Any] = {"cidr": cidr}
    _entry_options(data, params)
    entries.append(data)
    entries.sort(key=lambda entry: str(entry["cidr"]))


def _entry(entries: list[dict[str, Any]], cidr: str) -> dict[str, Any]:
    for entry in entries:
        if entry["cidr"] == cidr:
            return entry
    raise _ENTRIES.missing.error(cidr)


def read_entry(mock: Mock, call: Call) -> dict[str, Any]:
    """IPSet.pm:267-277: the entry with the set's digest."""
    listed = _with_digest(_entries(mock, call))
    return _entry(listed, str(call.params["cidr"]))


def update_entry(mock: Mock, call: Call) -> None:
    """IPSet.pm:308-331: ``nomatch`` and ``comment`` are set as given (not given: gone)."""
    entries = _entries(mock, call)
    _check_digest(call.params.get("digest"), entries)
    entry = _entry(entries, str(call.params["cidr"]))
    entry.pop("nomatch", None)
    entry.pop("comment", None)
    _entry_options(entry, call.params)


def _entry_options(entry: dict[str, Any], params: Mapping[str, Any]) -> None:
    """What the set's file keeps of an entry (Firewall.pm:3797-3800, read back at :3563-3598): ``!`` for
    nomatch, a comment that is not blank."""
    if truthy(params.get("nomatch")):
        entry["nomatch"] = 1
    if str(params.get("comment") or "").strip():
        entry["comment"] = str(params["comment"])


def remove_entry(mock: Mock, call: Call) -> None:
    """IPSet.pm:362-380: whatever matches goes; a missing entry is no error."""
    entries = _entries(mock, call)
    _check_digest(call.params.get("digest"), entries)
    entries[:] = [e for e in entries if e["cidr"] != str(call.params["cidr"])]


# --- security groups (src/PVE/API2/Firewall/Groups.pm) ---------------------------------------------------

def list_groups(mock: Mock, call: Call) -> list[dict[str, Any]]:
    """Groups.pm:13-28: sorted by name, with their comments."""
    groups = _section(mock, GROUPS)
    return _with_digest([{"group": name, **groups[name]} for name in sorted(groups)])


def _rename_group_rules(mock: Mock, old: str, new: str) -> None:
    """Groups.pm:31-38, :113-167: every rule calling the old group, at every level, calls the new one."""
    for where, rules in mock.cluster.store.lists.items():
        if where.endswith("/rules") and "/firewall" in where:
            for rule in rules:
                if rule.get("type") == "group" and rule.get("action") == old:
                    rule["action"] = new


def create_group(mock: Mock, call: Call) -> None:
    """Groups.pm:81-185: a new, empty group; with ``rename``, an existing one renamed (the rules that
    call it follow) or its comment changed."""
    params = call.params
    group, rename = str(params["group"]), params.get("rename")
    if rename:
        _renamed(mock, GROUPS, "group", "Security group", group, str(rename), params)
        if group != rename:
            _rename_group_rules(mock, str(rename), group)
        return
    if group in _section(mock, GROUPS):
        raise _GROUPS.duplicate.error(group)
    _writable(mock, GROUPS)[group] = _commented(params.get("comment"))
    mock.cluster.store.lists[f"{GROUPS}/{group}"] = []


def remove_group(mock: Mock, call: Call) -> None:
    """Rules.pm:535-560: no such group, or one holding rules, stays an error."""
    group = str(call.params["group"])
    groups = _section(mock, GROUPS)
    if group not in groups:
        raise _GROUPS.missing.error(group)
    if mock.cluster.store.lists.get(f"{GROUPS}/{group}"):
        raise PVEError(500, f"Security group '{group}' is not empty\n")
    del groups[group]
    mock.cluster.store.lists.pop(f"{GROUPS}/{group}", None)


# --- references, log, indexes ---------------------------------------------------------------------------

def _refs(mock: Mock, fw: str, kind: Any, scope: str) -> list[dict[str, Any]]:
    """Helpers.pm:156-191 collect_refs: a level's IP sets (``+name``) and aliases."""
    out: list[dict[str, Any]] = []
    if not kind or kind == "ipset":
        for name, data in sorted(_section(mock, fw + "/ipset").items()):  # PVE's order: a hash's
            entry = {"type": "ipset", "name": name, "ref": f"+{name}", "scope": scope}
            if data.get("comment"):
                entry["comment"] = data["comment"]
            out.append(entry)
    if not kind or kind == "alias":
        for key, alias in sorted(_section(mock, fw + "/aliases").items()):
            entry = {"type": "alias", "name": key, "ref": key, "scope": scope}
            if alias.get("comment"):
                entry["comment"] = alias["comment"]
            out.append(entry)
    return out


def refs(mock: Mock, call: Call) -> list[dict[str, Any]]:
    """Cluster.pm:265-283 (the cluster's, scope 'dc'), VM.pm:289-309 (the cluster's, then the guest's,
    scope 'guest'); the mock's SDN has no IP sets of its own."""
    kind = call.params.get("type")
    found = _refs(mock, CLUSTER, kind, "dc")
    own = _own_place(call)
    if own is not None and own != CLUSTER:
        found += _refs(mock, own, kind, "guest")
    return found


def log(mock: Mock, call: Call) -> Result:
    """Host.pm and VM.pm log, pve-common Tools.pm:790-795 dump_logfile_by_filehandle: the mock's
    firewall drops nothing, so the log has no line, and PVE answers one saying so (total 1)."""
    return Result([{"n": 1, "t": "no content"}], total=1)


_INDEXES: Mapping[str, tuple[str, ...]] = {
    # Cluster.pm:60-66, Host.pm:44, Vnet.pm:46
    CLUSTER: ("aliases", "rules", "options", "groups", "ipset", "macros", "refs"),
    "/nodes/{node}/firewall": ("rules", "options", "log"),
    "/cluster/sdn/vnets/{vnet}/firewall": ("rules", "options"),
}


def _index(names: tuple[str, ...]) -> View:
    return lambda mock, call: [{"name": name} for name in names]


def _views() -> dict[str, View]:
    views: dict[str, View] = {f"GET {base}": _index(names) for base, names in _INDEXES.items()}
    for base, env in LEVELS.items():
        if env in ("cluster", "vm", "ct"):
            views.update({
                f"GET {base}/aliases": list_aliases, f"POST {base}/aliases": create_alias,
                f"GET {base}/aliases/{{name}}": read_alias, f"PUT {base}/aliases/{{name}}": update_alias,
                f"DELETE {base}/aliases/{{name}}": remove_alias,
                f"GET {base}/ipset": list_sets, f"POST {base}/ipset": create_set,
                f"DELETE {base}/ipset/{{name}}": remove_set, f"GET {base}/ipset/{{name}}": list_entries,
                f"POST {base}/ipset/{{name}}": create_entry, f"GET {base}/ipset/{{name}}/{{cidr}}": read_entry,
                f"PUT {base}/ipset/{{name}}/{{cidr}}": update_entry,
                f"DELETE {base}/ipset/{{name}}/{{cidr}}": remove_entry,
                f"GET {base}/refs": refs,
            })
        if env in ("host", "vm", "ct"):
            views[f"GET {base}/log"] = log
    views.update({f"GET {GROUPS}": list_groups, f"POST {GROUPS}": create_group,
                  f"DELETE {GROUPS}/{{group}}": remove_group})
    return views


VIEWS: Mapping[str, View] = _views()
