"""PVE's texts for a missing or duplicate item of a section-config collection, per area.

Each handler dies in its own words, often inside a lock whose wrapper prefixes its own message
(``"$errmsg: $err"``: pve-network src/PVE/Network/SDN.pm:300-309, pve-access-control
src/PVE/Auth/Plugin.pm:24-32, pve-ha-manager src/PVE/HA/Config.pm:311-320). ``{id}`` is the item's id.
A text with a ``param`` is a parameter error (``raise_param_exc``: 400). ``remove=None``: PVE deletes a
missing item without complaint. Areas not listed fall back to ``<param> '<id>' does not exist``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from ....errors import PVEError


@dataclass(frozen=True, slots=True)
class Say:
    text: str
    param: str = ""

    def error(self, ident: str) -> PVEError:
        message = self.text.replace("{id}", ident)
        return PVEError.params({self.param: message}) if self.param else PVEError(500, message + "\n")


@dataclass(frozen=True, slots=True)
class Texts:
    duplicate: Say
    missing: Say  # read, and the item as a parent of another operation (unless ``parent`` says else)
    update: Say | None = None  # None: as ``missing``
    remove: Say | bool | None = True  # True: as ``missing``; None: deleting nothing succeeds
    parent: Say | None = None  # the item missing under a call on a sub-path; None: as ``missing``

    def as_parent(self) -> Say:
        return self.parent or self.missing

    def on_update(self) -> Say:
        return self.update or self.missing

    def on_remove(self) -> Say | None:
        return self.missing if self.remove is True else self.remove if isinstance(self.remove, Say) else None


def _sdn(kind: str, reader: str) -> Texts:
    """pve-network src/PVE/API2/Network/SDN/<Kind>s.pm create/update/delete under lock_sdn_config, the
    reader's text from src/PVE/Network/SDN/<Kind>s.pm sdn_<kind>s_config."""
    return Texts(Say(f"create sdn {kind} object failed: sdn {kind} object ID '{{id}}' already defined"),
                 Say(reader), Say(f"update sdn {kind} object failed: {reader}"),
                 Say(f"delete sdn {kind} object failed: {reader}"))


def _mapping(kind: str, noun: str) -> Texts:
    """pve-manager PVE/API2/Cluster/Mapping/{Dir,PCI,USB}.pm: get ('mapping ... not found'), create,
    update; delete removes nothing silently."""
    create = "create directory mapping failed" if kind == "dir" else "create hardware mapping failed"
    update = "update directory mapping failed" if kind == "dir" else "update hardware mapping failed"
    return Texts(Say(f"{create}: {noun} ID '{{id}}' already defined"), Say("mapping '{id}' not found"),
                 Say(f"{update}: {noun} ID '{{id}}' does not exist"), None)


_JOB = Say("No such job '{id}'", "id")

TEXTS: Final[dict[str, Texts]] = {
    "/cluster/sdn/zones": _sdn("zone", "sdn '{id}' does not exist"),  # Zones.pm:418,444; SDN/Zones.pm:38
    "/cluster/sdn/vnets": _sdn("vnet", "sdn vnet '{id}' does not exist"),  # Vnets.pm:319,334; SDN/Vnets.pm:24
    "/cluster/sdn/vnets/{vnet}/subnets": _sdn("subnet", "sdn subnet '{id}' does not exist"),  # Subnets.pm:231
    "/cluster/sdn/controllers": _sdn("controller", "sdn '{id}' does not exist"),  # Controllers.pm:309
    "/cluster/sdn/ipams": _sdn("ipam", "sdn '{id}' does not exist"),  # Ipams.pm:160; SDN/Ipams.pm:96
    "/cluster/sdn/dns": _sdn("dns", "sdn '{id}' does not exist"),  # Dns.pm:154; SDN/Dns.pm:24
    "/cluster/mapping/dir": _mapping("dir", "dir"),  # Dir.pm:178, :216, :223, :260, :278
    "/cluster/mapping/pci": _mapping("pci", "pci"),  # PCI.pm:175, :210, :217, :254, :269, :300-311
    "/cluster/mapping/usb": _mapping("usb", "usb"),  # USB.pm:168, :203, :210, :247, :262
    # pve-manager PVE/API2/Cluster/MetricServer.pm:136, :169, :228
    "/cluster/metrics/server": Texts(Say("Metric server '{id}' already exists"),
                                     Say("status server entry '{id}' does not exist"),
                                     Say("no such server '{id}'")),
    # pve-manager PVE/API2/ReplicationConfig.pm:107, :177, :226, :305
    "/cluster/replication": Texts(Say("replication job '{id}' already exists"),
                                  Say("no such replication job '{id}'"), Say("no such job '{id}'"),
                                  Say("no such job '{id}'")),
    # pve-manager PVE/API2/Backup.pm:340, :406, :596, :458
    "/cluster/backup": Texts(Say("Job '{id}' already exists"), _JOB, Say("no such vzdump job"), _JOB),
    # pve-access-control src/PVE/API2/Jobs/RealmSync.pm:180, :147, :243, :293
    "/cluster/jobs/realm-sync": Texts(Say("Job '{id}' already exists"), _JOB, Say("no such realm-sync job"), _JOB),
    # pve-ha-manager src/PVE/API2/HA/Rules.pm:286+298, :25, :340+358; delete removes nothing (:390-399)
    "/cluster/ha/rules": Texts(Say("create ha rule failed: HA rule '{id}' already defined"),
                               Say("no such ha rule '{id}'"),
                               Say("update HA rules failed: HA rule '{id}' does not exist"), None),
    # pve-ha-manager src/PVE/API2/HA/Groups.pm:143, :23 (while a cluster still has groups: see engine)
    "/cluster/ha/groups": Texts(Say("ha group ID '{id}' already defined"), Say("no such ha group '{id}'")),
    # pve-manager PVE/API2/Cluster/Qemu/CustomCPUModels.pm:98, :135, :191; qemu-server CPUConfig.pm:636
    "/cluster/qemu/custom-cpu-models": Texts(Say("custom CPU model '{id}' already exists"),
                                             Say("Custom cputype '{id}' not found"),
                                             Say("custom CPU model '{id}' does not exist"),
                                             Say("custom CPU model '{id}' does not exist")),
    # pve-manager PVE/API2/ACMEPlugin.pm:154, :44, :198; delete removes nothing (:249-259)
    "/cluster/acme/plugins": Texts(Say("ACME plugin ID '{id}' already exists"),
                                   Say("ACME plugin '{id}' not defined"),
                                   Say("ACME plugin ID '{id}' does not exist"), None),
    # pve-manager PVE/API2/ACMEAccount.pm:153, :202, :318
    "/cluster/acme/account": Texts(Say("ACME account config file '{id}' already exists.", "name"),
                                   Say("ACME account config file '{id}' does not exist.", "name")),
    # pve-access-control src/PVE/API2/Domains.pm:152+193, :318, :240+287, :357+367
    "/access/domains": Texts(Say("add auth server failed: domain '{id}' already exists"),
                             Say("domain '{id}' does not exist"),
                             Say("update auth server failed: domain '{id}' does not exist"),
                             Say("delete auth server failed: authentication domain '{id}' does not exist"),
                             parent=Say("Realm does not exist.", "realm")),  # :553 (sync)
    # pve-cluster src/PVE/API2/ClusterConfig.pm:393 (addnode without force), :508 (delnode)
    "/cluster/config/nodes": Texts(Say("can't add existing node '{id}'"),
                                   Say("Node/IP: {id} is not a known host of the cluster.")),
    # pve-manager PVE/API2/Network.pm:649, :750, :852, :977
    "/nodes/{node}/network": Texts(Say("interface already exists", "iface"),
                                   Say("interface does not exist", "iface")),
}

# the firewall's collections, at every level (cluster, node, guest, vnet): by the template's tail
FIREWALL: Final[dict[str, Texts]] = {
    # pve-firewall src/PVE/API2/Firewall/Aliases.pm:160, :202, :251
    "aliases": Texts(Say("alias '{id}' already exists", "name"), Say("no such alias", "name")),
    # pve-firewall src/PVE/API2/Firewall/IPSet.pm:703, :425
    "ipset": Texts(Say("IPSet '{id}' already exists", "name"), Say("no such IPSet '{id}'")),
    # pve-firewall src/PVE/API2/Firewall/IPSet.pm:223, :280, :336
    "ipset/{name}": Texts(Say("address '{id}' already exists", "cidr"), Say("no such IP/Network", "cidr")),
    # pve-firewall src/PVE/API2/Firewall/Groups.pm:196, Rules.pm:512
    "groups": Texts(Say("Security group '{id}' already exists", "group"),
                    Say("no such security group '{id}'")),
}


def texts_for(template: str, param: str) -> Texts:
    known = TEXTS.get(template)
    if known is not None:
        return known
    _, found, tail = template.partition("/firewall/")
    if found and tail in FIREWALL:
        return FIREWALL[tail]
    return Texts(Say(f"{param} '{{id}}' already exists"), Say(f"{param} '{{id}}' does not exist"))
