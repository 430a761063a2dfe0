"""The cluster the golden corpus's accepted requests assume: the objects its paths and bodies name.

The corpus (tests/data/golden_corpus.jsonl) was recorded on a node ``pve1`` whose cluster has VM 120,
container 230, storages ``nas01``, ``local-zfs`` and ``ceph.rbd``, user ``jdoe@pve`` with token ``ci``, groups,
a pool, a role, HA resources and a task, and the configuration its paths name: firewall rules of VM 120,
security group ``webgrp``, IP sets ``office`` and ``partners``, LDAP realm ``corp``, replication job
``120-0``, ACME account ``prod``, SDN zone ``zone7`` with vnet ``vnet7``, backup job ``backup-old1``. This
seed is the mock's default cluster plus those, so that an accepted request can be answered as on that
cluster.

Objects that one case creates and another uses (VM 4321, containers 2300, 231 and 6200, storage ``zp1``...)
are not in it: one seed cannot both have them and lack them. ``golden_seed(case_id)`` adds them for the
cases that use them (``CASE_STATE``): the cluster as it was when that case was recorded.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

from pvegateway.backends.mock import snapshot
from pvegateway.backends.mock.seed import DEFAULT_SEED
from pvegateway.backends.mock.store import defaults

GiB = 1024**3
UPID = "UPID:pve1:0000A1B2:0001C3D4:66000000:qmstart:120:root@pam:"


def _volume(volid: str, storage: str, content: str, size: int, vmid: int | None = None,
            fmt: str = "raw") -> dict[str, Any]:
    return {"volid": volid, "storage": storage, "node": "pve1", "content": content, "size": size,
            "format": fmt, "vmid": vmid, "ctime": 1717200000}


def _snapshot(name: str, parent: str | None, config: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "config": dict(config), "parent": parent, "snaptime": 1717200000}


_VM120 = {
    "name": "app120", "memory": "4096", "cores": "2", "sockets": "1", "ostype": "l26",
    "scsihw": "virtio-scsi-single", "scsi0": "local-zfs:vm-120-disk-0,size=32G",
    "scsi1": "local-zfs:vm-120-disk-1,size=8G", "scsi2": "local-zfs:vm-120-disk-2,size=8G",
    "scsi5": "local-zfs:vm-120-disk-5,size=1G", "ide2": "local-zfs:vm-120-cloudinit,media=cdrom",
    "net0": "virtio=BC:24:11:00:01:20,bridge=vmbr0", "net1": "virtio=BC:24:11:00:01:21,bridge=vmbr0",
    "serial0": "socket", "serial1": "socket", "agent": "1", "boot": "order=scsi0",
    "vga": "qxl",  # a SPICE display: the corpus's spiceproxy cases were answered
    **{f"unused{i}": f"local-zfs:vm-120-disk-{10 + i}" for i in range(5)},
    "smbios1": "uuid=7d2f1c4e-0000-4000-8000-000000000120", "vmgenid": "00000000-0000-4000-8000-000000000120",
}
_CT230 = {
    "hostname": "ct230", "memory": "512", "swap": "512", "cores": "1", "ostype": "debian", "arch": "amd64",
    "rootfs": "local-zfs:subvol-230-disk-0,size=8G",
    "net0": "name=eth0,bridge=vmbr0,hwaddr=BC:24:11:00:02:30,ip=dhcp,type=veth",
}


def _rule(action: str, **options: Any) -> dict[str, Any]:
    return {"type": "in", "action": action, "enable": 1, **options}


# pve-firewall keeps these in firewall/120.fw and cluster.fw; pve-access-control in domains.cfg (with the two
# built-in realms, Domains.pm:155-159); pve-guest-common in replication.cfg; pve-network in sdn/*.cfg
_BUILTIN_REALMS = {"pam": {"type": "pam", "comment": "Linux PAM standard authentication"},
                   "pve": {"type": "pve", "comment": "Proxmox VE authentication server"}}
_STORE: dict[str, Any] = {
    "sections": {
        "/cluster/firewall/groups": {"webgrp": {"comment": "web servers"}},
        "/cluster/firewall/ipset": {"office": {}, "partners": {}},
        "/access/domains": {**_BUILTIN_REALMS, "corp": {
            "type": "ldap", "server1": "ldap.example.com", "base_dn": "dc=example,dc=com", "user_attr": "uid",
            # pub-post-access-domains-sync-003 syncs without a scope: the realm's defaults give one
            # (pve-access-control src/PVE/API2/Domains.pm sync: 'Not passed as parameter and not defined...')
            "sync-defaults-options": "scope=users"}},
        "/cluster/replication": {"120-0": {"type": "local", "target": "pve2", "schedule": "*/15"}},
        "/cluster/acme/account": {"prod": {"contact": "admin@example.org"}},
        "/cluster/sdn/zones": {"zone7": {"type": "vlan", "bridge": "vmbr0"}},
        "/cluster/sdn/vnets": {"vnet7": {"zone": "zone7", "tag": 7}},
        # its IPs are mapped in this subnet (pve-network src/PVE/Network/SDN/Subnets.pm:101-118 find_ip_subnet)
        "/cluster/sdn/vnets/vnet7/subnets": {"zone7-2001:db8:7::-64": {"type": "subnet", "vnet": "vnet7"}},
        "/cluster/backup": {"backup-old1": {"type": "vzdump", "schedule": "sun 01:00", "storage": "nas01",
                                            "all": 1, "enabled": 1, "mode": "snapshot"}},
    },
    "lists": {
        # an IP set's entries, as pve-firewall writes them back: sorted (src/PVE/Firewall.pm save_ipset)
        "/cluster/firewall/ipset/office": [{"cidr": cidr} for cidr in sorted((
            "10.20.0.0/16", "10.30.0.0/16", "192.0.2.0/24", "172.16.0.0/12", "fd12:3456::/64"))],
        "/vms/120/firewall/rules": [
            _rule("ACCEPT", proto="tcp", dport="22"), _rule("ACCEPT", proto="tcp", dport="80"),
            _rule("ACCEPT", proto="tcp", dport="443"), _rule("ACCEPT", proto="icmp"),
            _rule("DROP", proto="tcp", dport="3389"), _rule("DROP", comment="default deny")],
        "/cluster/firewall/groups/webgrp": [
            _rule("ACCEPT", proto="tcp", dport="80"), _rule("ACCEPT", proto="tcp", dport="443"),
            _rule("ACCEPT", proto="tcp", dport="8080")],
    },
}


def _guest(vmid: int, kind: str, config: dict[str, Any], status: str = "stopped") -> Callable[[dict[str, Any]], None]:
    def add(seed: dict[str, Any]) -> None:
        seed["guests"].append({"vmid": vmid, "kind": kind, "node": "pve1", "status": status, "config": config})
    return add


def _container(vmid: int) -> Callable[[dict[str, Any]], None]:
    return _guest(vmid, "lxc", {"hostname": f"ct{vmid}", "memory": "512", "ostype": "alpine", "arch": "amd64",
                                "rootfs": "local:8"})


def _vm(vmid: int) -> Callable[[dict[str, Any]], None]:
    return _guest(vmid, "qemu", {"name": f"vm{vmid}", "memory": "1024", "ostype": "l26"})


def _ha(sid: str, state: str = "started") -> Callable[[dict[str, Any]], None]:
    def add(seed: dict[str, Any]) -> None:
        seed["ha"][sid] = {"state": state}
    return add


def _no_ha(sid: str) -> Callable[[dict[str, Any]], None]:
    def drop(seed: dict[str, Any]) -> None:
        seed["ha"].pop(sid)
    return drop


def _section(where: str, ident: str, options: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    def add(seed: dict[str, Any]) -> None:
        seed["store"]["sections"].setdefault(where, {})[ident] = options
    return add


def _user(userid: str) -> Callable[[dict[str, Any]], None]:
    def add(seed: dict[str, Any]) -> None:
        seed["users"].append({"userid": userid})
    return add


def _storage(storage: str, kind: str, config: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    def add(seed: dict[str, Any]) -> None:
        seed["storages"].append({"storage": storage, "type": kind, "content": ["images", "rootdir"],
                                 "config": config, "volumes": []})
    return add


# What a case's recording found on the cluster that another case creates (or, for one, removes).
_NIC = {"type": "eth", "method": "manual", "method6": "manual", "exists": 1, "active": 1, "families": ["inet"]}


def _interfaces(**added: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    """pve1's interfaces as the seed gives them, and ``added``: what pve-common's writer looks for
    (src/PVE/Network/Interfaces.pm:854 an OVS bridge's ports, :969 a VLAN's raw device)."""
    def add(seed: dict[str, Any]) -> None:
        cluster = snapshot.load(snapshot.Seed.of(seed))
        seed["store"]["sections"]["/nodes/pve1/network"] = {**copy.deepcopy(defaults.interfaces(cluster, "pve1")),
                                                            **added}
    return add


CASE_STATE: Mapping[str, tuple[Callable[[dict[str, Any]], None], ...]] = {
    "pub-post-network-001": (_interfaces(eno2=_NIC, mgmt0={"type": "OVSIntPort", "method": "manual",
                                                           "families": ["inet"]},
                                         bond9={"type": "OVSBond", "method": "manual", "families": ["inet"],
                                                "ovs_bonds": "eno2", "bond_mode": "active-backup"}),),
    "pub-post-network-002": (_interfaces(eno2=_NIC, bond0={"type": "bond", "method": "manual", "families": ["inet"],
                                                           "slaves": "eno2", "bond_mode": "active-backup"}),),
    "pub-delete-qemu-001": (_vm(4321),),  # pub-post-qemu-001 creates it
    "pub-get-qemu-status-current-001": (_vm(999999999),),
    "pub-post-lxc-status-start-001": (_container(2300),),  # pub-post-lxc-001 creates it
    "pub-post-lxc-snapshot-001": (_container(2300),),
    "pub-delete-lxc-001": (_container(2300),),
    "pub-v9111-put-lxc-config-001": (_container(6200),),  # pub-v9111-post-lxc-001 creates it
    "pub-v9111-put-lxc-config-004": (_container(6201),),  # pub-v9111-post-lxc-002 creates it
    # pub-post-lxc-clone-001 makes CT 231, pub-post-cluster-ha-resources-001 makes it a resource
    "pub-post-cluster-ha-resources-001": (_container(231),),
    "pub-post-cluster-ha-resources-relocate-001": (_container(231), _ha("ct:231")),
    "pub-v9111-post-cluster-ha-resources-002": (_vm(6102),),  # pub-v9111-post-qemu-003 creates it
    "pub-post-cluster-ha-resources-005": (_no_ha("vm:120"),),  # 'sid: 120' adds vm:120, which others find
    "pub-put-access-acl-001": (_user("ops1@pve"),),  # pub-post-access-users-001 creates it
    "pub-v9111-put-storage-001": (_storage("zp1", "zfspool", {"pool": "tank", "blocksize": "12k"}),),
    "pub-v9111-put-access-domains-002": (_section("/access/domains", "kc9", {
        "type": "openid", "issuer-url": "https://kc/realms/x", "client-id": "pve"}),),
    # pve-firewall src/PVE/Firewall.pm:1782 verify_rule: the IP set a rule names exists
    "pub-post-cluster-firewall-rules-002": (_section("/cluster/firewall/ipset", "blocklist-v6", {}),),
    "pub-post-qemu-firewall-ipset-004": (_section("/vms/120/firewall/ipset", "ipfilter-net0", {}),),
    "pub-post-qemu-firewall-ipset-005": (_section("/vms/120/firewall/ipset", "ipfilter-net0", {}),),
    "pub-put-cluster-metrics-server-001": (_section("/cluster/metrics/server", "graphite1", {
        "type": "graphite", "server": "graphite.lab", "port": 2003, "proto": "tcp", "path": "proxmox.pve"}),),
}


def golden_seed(case_id: str | None = None) -> dict[str, Any]:
    """The recorded cluster; for ``case_id``, as that case found it (``CASE_STATE``)."""
    seed = _base()
    for change in CASE_STATE.get(case_id or "", ()):
        change(seed)
    return seed


def _base() -> dict[str, Any]:
    seed = copy.deepcopy(DEFAULT_SEED)
    seed["store"] = copy.deepcopy(_STORE)
    local = next(s for s in seed["storages"] if s["storage"] == "local")
    local["content"] += ["rootdir", "images"]  # the recorded node creates containers on it by default
    local["volumes"].append(_volume("local:vztmpl/ubuntu-24.04-standard_24.04-2_amd64.tar.zst", "local",
                                    "vztmpl", 140 * 2**20, fmt="tzst"))
    seed["storages"] += [
        {"storage": "ceph.rbd", "type": "rbd", "content": ["images", "rootdir"], "shared": True,
         "config": {"pool": "rbd"}, "total": 4000 * GiB, "volumes": []},
        {"storage": "local-zfs", "type": "zfspool", "content": ["images", "rootdir"],
         "config": {"pool": "rpool/data", "sparse": "1"}, "total": 400 * GiB,
         "volumes": [_volume(f"local-zfs:vm-120-disk-{i}", "local-zfs", "images", 8 * GiB, 120)
                     for i in (0, 1, 2, 5, 10, 11, 12, 13, 14)]
         + [_volume("local-zfs:vm-120-cloudinit", "local-zfs", "images", 4 * 2**20, 120),
            _volume("local-zfs:subvol-230-disk-0", "local-zfs", "rootdir", 8 * GiB, 230, "subvol")]},
        {"storage": "nas01", "type": "nfs", "shared": True,
         "content": ["iso", "vztmpl", "backup", "images", "import", "snippets"],
         "config": {"server": "192.0.2.50", "export": "/export/pve", "path": "/mnt/pve/nas01"},
         "total": 2000 * GiB,
         "volumes": [
             _volume("nas01:iso/alpine-3.20.iso", "nas01", "iso", 200 * 2**20, fmt="iso"),
             _volume("nas01:iso/old.iso", "nas01", "iso", 200 * 2**20, fmt="iso"),
             _volume("nas01:iso/Win11_23H2.iso", "nas01", "iso", 6 * GiB, fmt="iso"),
             _volume("nas01:iso/virtio-win.iso", "nas01", "iso", 700 * 2**20, fmt="iso"),
             _volume("nas01:vztmpl/debian-12.tar.zst", "nas01", "vztmpl", 120 * 2**20, fmt="tzst"),
             _volume("nas01:vztmpl/alpine-3.20-default_20240908_amd64.tar.xz", "nas01", "vztmpl",
                     3 * 2**20, fmt="txz"),
             _volume("nas01:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst", "nas01", "vztmpl",
                     126 * 2**20, fmt="tzst"),
             # the backups hold their guests' configurations (what extractconfig reads, a restore brings back)
             {**_volume("nas01:backup/vzdump-lxc-230-2024_06_01-02_00_00.tar.zst", "nas01", "backup",
                        2 * GiB, 230, "tar.zst"), "config": dict(_CT230)},
             {**_volume("nas01:backup/vzdump-qemu-120-2024_06_01-02_00_00.vma.zst", "nas01", "backup",
                        12 * GiB, 120, "vma.zst"), "config": dict(_VM120)},
             _volume("nas01:import/noble-server-cloudimg-amd64.img", "nas01", "import", 600 * 2**20,
                     fmt="qcow2"),
         ]},
    ]
    seed["guests"] += [
        {"vmid": 120, "kind": "qemu", "node": "pve1", "status": "running", "started": 1717200000,
         "config": dict(_VM120), "parent": "nightly",
         "snapshots": [_snapshot("pre_patch", None, _VM120), _snapshot("nightly", "pre_patch", _VM120)]},
        {"vmid": 230, "kind": "lxc", "node": "pve1", "status": "running", "started": 1717200000,
         "config": dict(_CT230), "parent": "before_update",
         "snapshots": [_snapshot("before_update", None, _CT230)]},
    ]
    seed["users"] += [
        {"userid": "jdoe@pve", "comment": "Jane Doe", "email": "jdoe@example.com", "password": "old-pass",
         "groups": ["devops"], "tokens": [{"tokenid": "ci", "secret": "00000000-0000-4000-8000-0000000000c1"}]},
    ]
    seed["groups"] += [{"groupid": "ops"}, {"groupid": "audit"}, {"groupid": "devops"}]
    seed["roles"] = [{"roleid": "Operator", "privs": ["VM.PowerMgmt", "VM.Console"]}]
    seed["pools"] += [{"poolid": "lab", "vmids": [], "storages": []}]
    seed["ha"] = {"vm:120": {"state": "started"}}
    seed["tasks"] = [{"upid": UPID, "node": "pve1", "pid": 0xA1B2, "pstart": 0x1C3D4, "starttime": 0x66000000,
                      "type": "qmstart", "id": "120", "user": "root@pam", "log": ["start VM 120", "TASK OK"],
                      "status": "stopped", "exitstatus": "OK", "endtime": 0x66000002}]
    return seed
