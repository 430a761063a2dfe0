"""Section-config collections (storage.cfg-like: SDN, HA, mappings, jobs, realms, firewall aliases...):
create with the id parameter (or the id PVE generates), list, read with the file's ``digest``, update
with ``digest`` and ``delete``, remove; PVE's texts for missing and duplicate ids (:mod:`.texts`).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from ....errors import PVEError
from ..state import Cluster
from . import defaults, ha_rules
from .act import MODIFIED, Act
from .layout import id_default, place
from .texts import Say, texts_for
from .values import deleted, kept, section_digest


def _migrated_groups(act: Act, verb: str) -> None:
    """pve-ha-manager src/PVE/API2/HA/Groups.pm:60, :97, :118, :172, :248: once a cluster has no HA group
    left (Config.pm:261-268 have_groups_been_migrated: a 9.x cluster), groups are rules."""
    if act.plan.where == defaults.HA_GROUPS and not act.section():
        noun = "groups" if verb == "index" else "group"
        raise PVEError(500, f"cannot {verb} {noun}: ha groups have been migrated to rules\n")


# --- ids --------------------------------------------------------------------------------------------------

def _subnet_id(act: Act, given: str) -> str:
    """pve-network src/PVE/API2/Network/SDN/Subnets.pm:221-225: ``<zone>-<cidr with - for />``."""
    vnet = defaults.section(act.cluster, "/cluster/sdn/vnets", {}).get(str(act.params.get("vnet")), {})
    return f"{vnet.get('zone', '')}-{given.replace('/', '-')}"


def _uuid(act: Act, given: str) -> str:
    """pve-manager PVE/API2/Backup.pm:332: a job without an id gets ``UUID::uuid()`` (here derived from
    a counter of the store, so runs repeat)."""
    act.cluster.store.serial += 1
    digest = hashlib.sha1(f"backup-job-{act.cluster.store.serial}".encode(), usedforsecurity=False).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def _cpu_model(act: Act, given: str) -> str:
    """pve-manager PVE/API2/Cluster/Qemu/CustomCPUModels.pm:90-92: a model is named without its 'custom-'
    prefix (qemu-server CPUConfig.pm get_custom_model strips it on reads too)."""
    return given.removeprefix("custom-")


_IDS: Mapping[str, Callable[[Act, str], str]] = {
    "/cluster/sdn/vnets/{vnet}/subnets": _subnet_id,
    "/cluster/qemu/custom-cpu-models": _cpu_model,
}
_ITEM_IDS: Mapping[str, Callable[[Act, str], str]] = {"/cluster/qemu/custom-cpu-models": _cpu_model}
_GENERATED: Mapping[str, Callable[[Act, str], str]] = {"/cluster/backup": _uuid}


def _backup_job(item: dict[str, Any], ident: str) -> None:
    """Backup.pm:329: a job is enabled unless told otherwise; jobs.cfg sections are of type vzdump."""
    item.setdefault("enabled", 1)
    item.setdefault("type", "vzdump")


def _subnet(item: dict[str, Any], ident: str) -> None:
    """Subnets.pm: the subnet's vnet is part of its section (SubnetPlugin 'vnet' option)."""
    item.pop("subnet", None)


def _cpu_model_type(item: dict[str, Any], ident: str) -> None:
    """qemu-server src/PVE/QemuServer/CPUConfig.pm:523-537: a model's cputype is 'custom-<name>'."""
    item["cputype"] = f"custom-{ident}"


_ON_CREATE: Mapping[str, Callable[[dict[str, Any], str], None]] = {
    "/cluster/backup": _backup_job,
    "/cluster/sdn/vnets/{vnet}/subnets": _subnet,
    "/cluster/qemu/custom-cpu-models": _cpu_model_type,
}


def _realm(act: Act, ident: str) -> None:
    """pve-access-control src/PVE/API2/Domains.pm:152-162 (under 'add auth server failed', :193): the
    built-in realms' names and types are reserved; only LDAP and AD realms check their connection."""
    prefix = "add auth server failed: "
    kind = str(act.params.get("type"))
    if ident in ("pam", "pve"):
        raise PVEError(500, f"{prefix}unable to use reserved name '{ident}'\n")
    if kind in ("pam", "pve"):
        raise PVEError(500, f"{prefix}unable to create builtin type '{kind}'\n")
    if act.params.get("check-connection") is not None and kind not in ("ldap", "ad"):
        raise PVEError(500, f"{prefix}'check-connection' parameter can only be set for realms of type 'ldap' or "
                            f"'ad'\n")


_ON_VALIDATE: Mapping[str, Callable[[Act, str], None]] = {"/access/domains": _realm}


# --- operations -------------------------------------------------------------------------------------------

def _texts(act: Act) -> Any:
    return texts_for(act.plan.where, act.plan.param)


def _ident(act: Act) -> str:
    given = str(act.params[act.plan.param])
    derive = _ITEM_IDS.get(act.plan.where)
    return derive(act, given) if derive is not None else given


def _item(act: Act, ident: str, say: Say | None) -> dict[str, Any] | None:
    found = act.section().get(ident)
    if found is None and say is not None:
        raise say.error(ident)
    return found


def _check_digest(act: Act) -> None:
    digest = act.params.get("digest")
    if digest and digest != section_digest(act.section()):
        raise PVEError(500, MODIFIED)


def listing(act: Act) -> list[dict[str, Any]]:
    _migrated_groups(act, "index")
    if act.plan.where == ha_rules.RULES:
        return ha_rules.listing(act)
    section = act.section()
    param, wanted = act.plan.param, act.params.get("type")
    items = act.op.returns.get("items") or {}
    with_digest = "digest" in (items.get("properties") or {})
    digest = section_digest(section) if with_digest else ""
    out = []
    for ident, options in section.items():
        if wanted and "type" in (act.op.parameters.get("properties") or {}) and options.get("type") != wanted:
            continue
        entry = {param: ident, **options}
        if with_digest:
            entry["digest"] = digest
        out.append(entry)
    return out


def read(act: Act) -> dict[str, Any]:
    _migrated_groups(act, "read")
    ident = _ident(act)
    if act.plan.where == ha_rules.RULES:
        return ha_rules.read(act, ident)
    options = _item(act, ident, _texts(act).missing) or {}
    shown = act.op.returns.get("properties") or {}
    entry = dict(options)
    if not shown or act.plan.param in shown:
        entry = {act.plan.param: ident, **entry}
    if not shown or "digest" in shown:
        entry["digest"] = section_digest(act.section())
    return entry


def create(act: Act) -> str:
    """The new item's id."""
    _migrated_groups(act, "create")
    param = act.plan.param
    given = act.params.get(param)
    if given is None:
        given = id_default(act.op, param)
    where = act.plan.where
    if given is None:
        generate = _GENERATED.get(where)
        if generate is None:
            raise PVEError.params({param: "property is missing and it is not optional"})
        ident = generate(act, "")
    else:
        derive = _IDS.get(where)
        ident = derive(act, str(given)) if derive is not None else str(given)
    if ident in act.section():
        raise _texts(act).duplicate.error(ident)
    validate = _ON_VALIDATE.get(where)
    if validate is not None:
        validate(act, ident)
    item = kept(act.op, act.params, (param,))
    hook = _ON_CREATE.get(where)
    if hook is not None:
        hook(item, ident)
    if where == ha_rules.RULES:
        ha_rules.create(act, ident, item)
        return ident
    act.writable()[ident] = item
    return ident


def update(act: Act) -> None:
    _migrated_groups(act, "update")
    ident = _ident(act)
    if act.plan.where == ha_rules.RULES:
        ha_rules.update(act, ident, kept(act.op, act.params, (act.plan.param,)), deleted(act.params))
        return
    _check_digest(act)
    _item(act, ident, _texts(act).on_update())
    changes = kept(act.op, act.params, (act.plan.param,))
    removed = deleted(act.params)
    both = sorted(set(removed) & set(changes))
    if both:  # pve-common src/PVE/SectionConfig.pm delete_from_config
        raise PVEError(500, f"cannot set and delete property '{both[0]}' at the same time!\n")
    options = act.writable()[ident]
    for key in removed:
        options.pop(key, None)
    options.update(changes)


def remove(act: Act) -> None:
    _migrated_groups(act, "delete")
    ident = _ident(act)
    if _item(act, ident, _texts(act).on_remove()) is None:
        return  # PVE writes the file back without the (absent) item
    _check_not_in_use(act, ident)
    del act.writable()[ident]
    act.cluster.store.drop(place(act.plan.where, act.params) + "/" + ident)


def _check_not_in_use(act: Act, ident: str) -> None:
    """pve-firewall src/PVE/API2/Firewall/Rules.pm:555: a security group holding rules stays."""
    rules = act.cluster.store.lists.get(f"/cluster/firewall/groups/{ident}")
    if act.plan.where == "/cluster/firewall/groups" and rules:
        raise PVEError(500, f"Security group '{ident}' is not empty\n")


def exists(cluster: Cluster, within: str, values: Mapping[str, Any], param: str) -> None:
    """A parent item of the store (an IP set holding addresses, a vnet holding subnets)."""
    ident = str(values[param])
    if ident not in defaults.section(cluster, within, values):
        if within == defaults.HA_GROUPS and not defaults.section(cluster, within, values):
            raise PVEError(500, "cannot read group: ha groups have been migrated to rules\n")
        raise texts_for(within, param).missing.error(ident)
