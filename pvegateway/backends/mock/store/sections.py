"""Section-config collections (storage.cfg-like: SDN, HA, mappings, jobs, realms, firewall aliases...):
create with the id parameter (or the id PVE generates), list, read with the file's ``digest``, update
with ``digest`` and ``delete``, remove; PVE's texts for missing and duplicate ids (:mod:`.texts`).
"""

from __future__ import annotations

import hashlib
import ipaddress
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from ....errors import PVEError
from ..handlers import _backups
from ..handlers._guest_common import check_pool
from ..handlers._params import flag
from ..state import Cluster
from . import defaults, ha_rules, replication, sdn
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


def _backup_job(act: Act, item: dict[str, Any], ident: str) -> None:
    """Backup.pm:329: a job is enabled unless told otherwise; jobs.cfg sections are of type vzdump; the
    old ``starttime``/``dow`` become a schedule (:92-120), ``exclude`` means all (VZDump.pm:1551)."""
    item.setdefault("enabled", 1)
    item.setdefault("type", "vzdump")
    starttime, dow = item.pop("starttime", None), item.pop("dow", None)
    if starttime is not None:
        days = ",".join(d for d in str(dow or "").replace(";", ",").replace(" ", ",").split(",") if d)
        item["schedule"] = str(starttime) if not days or days == _ALL_DAYS else f"{days} {starttime}"
    if item.get("exclude") is not None and not item.get("pool"):
        item["all"] = 1


def _subnet(act: Act, item: dict[str, Any], ident: str) -> None:
    """Subnets.pm: the subnet's vnet is part of its section (SubnetPlugin 'vnet' option)."""
    item.pop("subnet", None)
    item["vnet"] = str(act.params["vnet"])


def _cpu_model_type(act: Act, item: dict[str, Any], ident: str) -> None:
    """qemu-server src/PVE/QemuServer/CPUConfig.pm:523-537: a model's cputype is 'custom-<name>'."""
    item["cputype"] = f"custom-{ident}"


_ON_CREATE: Mapping[str, Callable[[Act, dict[str, Any], str], None]] = {
    "/cluster/backup": _backup_job,
    "/cluster/sdn/vnets/{vnet}/subnets": _subnet,
    "/cluster/qemu/custom-cpu-models": _cpu_model_type,
}


def _subnet_shown(ident: str, entry: dict[str, Any]) -> None:
    """pve-network src/PVE/Network/SDN/Subnets.pm:19-38 sdn_subnets_config: what the id says, and the DHCP
    ranges parsed (:40-59, API2/Network/SDN/Subnets.pm:27-35)."""
    zone, _, rest = ident.partition("-")
    network, _, mask = rest.rpartition("-")
    entry.update(id=ident, cidr=f"{network}/{mask}", zone=zone, network=network, mask=mask)
    ranges = entry.get("dhcp-range") or []
    entry["dhcp-range"] = [dict(p.split("=", 1) for p in str(r).split(",") if "=" in p)
                           for r in (ranges if isinstance(ranges, list) else [ranges])]


def _replication_job(ident: str, entry: dict[str, Any]) -> None:
    """pve-guest-common src/PVE/ReplicationConfig.pm:131-146 parse_config: a job's guest and number are
    read off its id ('100-0'), not kept in the file."""
    guest, _, jobnum = ident.partition("-")
    if guest.isdigit() and jobnum.isdigit():
        entry.update(guest=int(guest), jobnum=int(jobnum))


# what a read adds to each item it shows
_ON_SHOW: Mapping[str, Callable[[str, dict[str, Any]], None]] = {"/cluster/sdn/vnets/{vnet}/subnets": _subnet_shown,
                                                                 "/cluster/replication": _replication_job}


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


def _address(text: str, which: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """Net::IP->new on one end of a DHCP range: an address, or PVE's two refusals."""
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        pass
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise _subnet_refused(f"{which} is not a valid IP {text}") from None
    if network.num_addresses != 1:
        raise _subnet_refused(f"{which} must be a singular IP")
    return network.network_address


def _subnet_refused(text: str, key: str = "dhcp-range") -> PVEError:
    """raise_param_exc inside lock_sdn_config: pve-network src/PVE/Network/SDN.pm:300-307 dies with its
    message and the exception as text (pve-common src/PVE/Exception.pm:98-116: code, message, errors)."""
    return PVEError(500, f"create sdn subnet object failed: 400 Parameter verification failed.\n{key}: {text}\n")


def _subnet_checks(act: Act, ident: str) -> None:
    """pve-network src/PVE/Network/SDN/SubnetPlugin.pm:195-227 on_update_hook: no subnet on a VLAN-aware
    vnet, the gateway inside the subnet (but for a /32), then validate_dhcp_ranges (:87-137)."""
    cidr = str(act.params.get("subnet"))
    network = ipaddress.ip_network(cidr, strict=False)
    vnet_id = str(act.params.get("vnet"))
    vnet = defaults.section(act.cluster, "/cluster/sdn/vnets", {}).get(vnet_id, {})
    if str(vnet.get("vlanaware", "0")) not in ("", "0"):
        raise _subnet_refused("you can't add a subnet on a vlanaware vnet", "vnet")
    gateway = act.params.get("gateway")
    if gateway and network.prefixlen != 32 and ipaddress.ip_address(str(gateway)) not in network:
        raise _subnet_refused(f"{gateway} is not in subnet {cidr}", "gateway")
    ranges = act.params.get("dhcp-range")
    seen: list[tuple[int, int]] = []
    for text in ranges if isinstance(ranges, list) else [ranges] if ranges else []:
        parts = dict(part.partition("=")[::2] for part in str(text).split(",") if part)
        start_text, end_text = parts.get("start-address", ""), parts.get("end-address", "")
        start, end = _address(start_text, "start-address"), _address(end_text, "end-address")
        if start.version != end.version or int(start) > int(end):
            raise _subnet_refused(f"start-address {start_text} must be smaller than end-address {end_text}")
        for address, which, given in ((start, "start-address", start_text), (end, "end-address", end_text)):
            if address not in network:
                raise _subnet_refused(f"{which} {given} is not in subnet {cidr}")
        if any(int(start) <= other_end and other_start <= int(end) for other_start, other_end in seen):
            raise _subnet_refused("dhcp ranges must not overlap")
        seen.append((int(start), int(end)))


def _sdn_zone(act: Act, ident: str) -> None:
    """pve-network src/PVE/API2/Network/SDN/Zones.pm:421-436: the DNS servers and IPAM a zone names exist;
    the parameter error is raised inside lock_sdn_config, whose "$errmsg: $err" stringifies it
    (pve-common src/PVE/Exception.pm stringify: code, message, then each error)."""
    params = act.params
    dns = defaults.section(act.cluster, "/cluster/sdn/dns", {})
    ipams = defaults.section(act.cluster, "/cluster/sdn/ipams", {})
    checks = (("dns", params.get("dns") and params["dns"] not in dns, f"{params.get('dns')} don't exist"),
              ("reversedns", params.get("reversedns") and params["reversedns"] not in dns,
               f"{params.get('reversedns')} don't exist"),
              ("dnszone", params.get("dnszone") and not params.get("dns"), "missing dns server"),
              ("ipam", params.get("ipam") and params["ipam"] not in ipams, f"{params.get('ipam')} not existing"))
    for key, failed, text in checks:
        if failed:
            raise PVEError(500, f"create sdn zone object failed: 400 Parameter verification failed.\n{key}: {text}\n")


_ALL_DAYS = "mon,tue,wed,thu,fri,sat,sun"  # pve-manager PVE/API2/Backup.pm:24


def _backup_job_check(act: Act, ident: str) -> None:
    """Backup.pm:322-344: the pool exists, a schedule (or the old start time) and not both, the
    vzdump parameters' own checks."""
    params = act.params
    check_pool(act.mock, params.get("pool"))
    if params.get("schedule") is not None and params.get("starttime") is not None:
        raise PVEError.params({"starttime": "'starttime' and 'schedule' cannot both be set"})
    if params.get("schedule") is None and params.get("starttime") is None:
        raise PVEError.params({"schedule": "neither 'starttime' nor 'schedule' were set"})
    _backups.verify_parameters(params, check_missing=True)


def _backup_job_update(act: Act, job: dict[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """Backup.pm:558-568, :614-631: what the update names replaces the other selections; the result
    passes the vzdump parameters' checks."""
    check_pool(act.mock, changes.get("pool"))
    if not changes and not act.params.get("delete"):
        raise PVEError(500, "no options specified\n")  # :575-576
    if changes.get("schedule") is not None and changes.get("starttime") is not None:
        raise PVEError.params({"starttime": "'starttime' and 'schedule' cannot both be set"})
    _backups.verify_parameters(changes, check_missing=False)
    _backup_job(act, job, "")
    if changes.get("vmid") is not None:
        drop: tuple[str, ...] = ("all", "exclude", "pool")
    elif flag(changes.get("all")):
        drop = ("vmid", "pool")
    elif job.get("pool"):
        drop = ("vmid", "all", "exclude")
    else:
        drop = ()
    job = {k: v for k, v in job.items() if k not in drop}
    _backups.verify_parameters(job, check_missing=True)
    return job


_ON_UPDATE: Mapping[str, Callable[[Act, dict[str, Any], Mapping[str, Any]], dict[str, Any]]] = {
    "/cluster/backup": _backup_job_update}


_ON_VALIDATE: Mapping[str, Callable[[Act, str], None]] = {
    "/access/domains": _realm, "/cluster/sdn/zones": _sdn_zone,
    "/cluster/sdn/vnets/{vnet}/subnets": _subnet_checks, replication.JOBS: replication.validate,
    "/cluster/backup": _backup_job_check}


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


def _shown(act: Act) -> tuple[defaults.Section, bool]:
    """What a read shows, and whether it is the written configuration (which alone has a digest): SDN's
    running or pending configuration when asked for (:mod:`.sdn`)."""
    other = sdn.shown(act.cluster.store, act.plan.where, place(act.plan.where, act.params), act.params)
    return (act.section(), True) if other is None else (other, False)


def _locked(act: Act) -> None:
    """Writes of SDN objects check the global lock's token first (:mod:`.sdn`)."""
    sdn.check_write(act.cluster.store, act.plan.where, act.op.method, act.params)


def _shows(act: Act, ident: str, entry: dict[str, Any]) -> None:
    decorate = _ON_SHOW.get(act.plan.where)
    if decorate is not None:
        decorate(ident, entry)


def _check_digest(act: Act) -> None:
    digest = act.params.get("digest")
    if digest and digest != section_digest(act.section()):
        raise PVEError(500, MODIFIED)


def listing(act: Act) -> list[dict[str, Any]]:
    _migrated_groups(act, "index")
    if act.plan.where == ha_rules.RULES:
        return ha_rules.listing(act)
    section, written = _shown(act)
    param, wanted = act.plan.param, act.params.get("type")
    items = act.op.returns.get("items") or {}
    with_digest = written and "digest" in (items.get("properties") or {})
    digest = section_digest(section) if with_digest else ""
    out = []
    for ident, options in section.items():
        if wanted and "type" in (act.op.parameters.get("properties") or {}) and options.get("type") != wanted:
            continue
        entry = {param: ident, **options}
        _shows(act, ident, entry)
        if with_digest:
            entry["digest"] = digest
        out.append(entry)
    return out


def read(act: Act) -> dict[str, Any]:
    _migrated_groups(act, "read")
    ident = _ident(act)
    if act.plan.where == ha_rules.RULES:
        return ha_rules.read(act, ident)
    section, written = _shown(act)
    options = section.get(ident)
    if options is None:
        raise _texts(act).missing.error(ident)
    shown = act.op.returns.get("properties") or {}
    entry = dict(options)
    if not shown or act.plan.param in shown:
        entry = {act.plan.param: ident, **entry}
    _shows(act, ident, entry)
    if written and (not shown or "digest" in shown):
        entry["digest"] = section_digest(section)
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
    _locked(act)
    if ident in act.section():
        raise _texts(act).duplicate.error(ident)
    validate = _ON_VALIDATE.get(where)
    if validate is not None:
        validate(act, ident)
    item = kept(act.op, act.params, (param,))
    hook = _ON_CREATE.get(where)
    if hook is not None:
        hook(act, item, ident)
    if where == ha_rules.RULES:
        ha_rules.create(act, ident, item)
        return ident
    act.writable()[ident] = item
    return ident


def update(act: Act) -> None:
    _migrated_groups(act, "update")
    _locked(act)
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
    merged = {k: v for k, v in options.items() if k not in removed} | changes
    check = _ON_UPDATE.get(act.plan.where)
    if check is not None:
        merged = check(act, merged, changes)
    options.clear()
    options.update(merged)


def remove(act: Act) -> None:
    _migrated_groups(act, "delete")
    _locked(act)
    # pve-firewall src/PVE/API2/Firewall/IPSet.pm:372-373, Aliases.pm:309-310: the only deletes that take a
    # digest compare it first
    _check_digest(act)
    ident = _ident(act)
    if _item(act, ident, _texts(act).on_remove()) is None:
        return  # PVE writes the file back without the (absent) item
    del act.writable()[ident]
    act.cluster.store.drop(place(act.plan.where, act.params) + "/" + ident)


def exists(cluster: Cluster, within: str, values: Mapping[str, Any], param: str) -> None:
    """A parent item of the store (an IP set holding addresses, a vnet holding subnets)."""
    ident = str(values[param])
    if ident not in defaults.section(cluster, within, values):
        if within == defaults.HA_GROUPS and not defaults.section(cluster, within, values):
            raise PVEError(500, "cannot read group: ha groups have been migrated to rules\n")
        raise texts_for(within, param).as_parent().error(ident)
