"""A user without any privilege walks every operation the mock serves: PVE 9.2's tree and ``GET /``.

The user is real (made through the API, logged in with a ticket and its CSRF token) and has no ACL
entry. Every operation is called once, from the same starting state, with valid parameters naming the
seeded cluster's objects; the 18 with a ``userid`` twice: for the user themself and for root@pam. What
PVE opens to such a user is written below with the reason, read from the schema (``permissions.user``)
and PVE's handlers (file:line in the named repository); everything else must answer PVE's 403 and leave
the state as it was: the control API's dump (the configuration store's objects included), compared around
each call.
"""

from __future__ import annotations

import copy
import json
import re
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from pvegateway.apidoc.operation import Operation
from pvegateway.app import Gateway
from pvegateway.backends.mock.backend import MockBackend, MockOptions
from pvegateway.backends.mock.state import Volume
from pvegateway.backends.mock.totp import Totp
from pvegateway.backends.samples import sample
from tests.mock.conftest import PVE, login, mock_app

WALKER, PASSWORD = "nobody@pve", "nobody-password"
ROOT = "root@pam"
CONTROL = "zero-privilege-walk-control-key"
BACKUP = "local:backup/vzdump-qemu-100-2025_01_01-00_00_00.vma.zst"
ISO = "local:iso/debian-12.9.0-amd64-netinst.iso"
TEMPLATE = "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"
TOKEN = "walk"
DENIED = re.compile(r"Permission check failed( \(.+\))?\n")


@dataclass(frozen=True)
class Open:
    """An operation PVE lets this user call; ``empty``: a list filtered to nothing for them."""

    why: str
    empty: bool = False
    shows: Callable[[Any], bool] | None = None  # what the answer must be, when not just any success


@dataclass(frozen=True)
class Refused:
    """Not a permission check, but what every caller without the right credentials gets."""

    status: int
    message: str
    why: str


def _nodes_without_figures(data: Any) -> bool:
    figures = {"cpu", "maxcpu", "mem", "maxmem", "disk", "maxdisk", "uptime"}
    return isinstance(data, list) and len(data) == 3 and all(
        entry["type"] == "node" and not figures & set(entry) for entry in data)


# permissions.user == 'all' (or 'world') and PVE's handler lets a user without privileges through
OPEN: Mapping[str, Open] = {
    "GET /": Open("pve-manager PVE/API2.pm: the static root index"),
    "GET /version": Open("pve-manager PVE/API2.pm:120-136: version and console only"),
    "GET /cluster": Open("pve-manager PVE/API2/Cluster.pm:156-187: static index"),
    "GET /cluster/metrics": Open("pve-manager PVE/API2/Cluster/MetricServer.pm:37-45: static index"),
    "GET /cluster/notifications": Open("pve-manager PVE/API2/Cluster/Notifications.pm:77-87: static index"),
    "GET /cluster/notifications/endpoints": Open("pve-manager Cluster/Notifications.pm:248-257: static index"),
    "GET /cluster/firewall": Open("pve-firewall PVE/API2/Firewall/Cluster.pm:40: static index"),
    "GET /cluster/firewall/groups": Open("pve-firewall PVE/API2/Firewall/Groups.pm:67-73: unfiltered list"),
    "GET /cluster/firewall/macros": Open("pve-firewall PVE/API2/Firewall/Cluster.pm:200-212: static list"),
    "GET /cluster/ha/status": Open("pve-ha-manager src/PVE/API2/HA/Status.pm:34: static index"),
    "GET /cluster/acme": Open("pve-manager PVE/API2/ACMEAccount.pm:41-70: static index"),
    "GET /cluster/acme/account": Open("pve-manager PVE/API2/ACMEAccount.pm:92-96: unfiltered account names"),
    "GET /cluster/acme/tos": Open("pve-manager PVE/API2/ACMEAccount.pm:381-390: the CA's terms of service"),
    "GET /cluster/acme/directories": Open("pve-manager PVE/API2/ACMEAccount.pm:477-480: static list"),
    "GET /cluster/acme/challenge-schema": Open("pve-manager PVE/API2/ACMEAccount.pm:516-542: plugin schemas"),
    "GET /cluster/ceph": Open("pve-manager PVE/API2/Cluster/Ceph.pm:43-54: static index"),
    "GET /cluster/jobs": Open("pve-manager PVE/API2/Cluster/Jobs.pm:42-46: static index"),
    "GET /cluster/jobs/schedule-analyze": Open("pve-manager PVE/API2/Cluster/Jobs.pm:98-121: a calculation"),
    "GET /cluster/mapping": Open("pve-manager PVE/API2/Cluster/Mapping.pm:28: static index"),
    "GET /cluster/bulk-action": Open("pve-manager PVE/API2/Cluster/BulkAction.pm:16: static index"),
    "GET /cluster/bulk-action/guest": Open("pve-manager PVE/API2/Cluster/BulkAction/Guest.pm:38-47: index"),
    "GET /cluster/nextid": Open("pve-manager PVE/API2/Cluster.pm:1031-1053: the next free VMID"),
    "GET /cluster/options": Open("pve-manager PVE/API2/Cluster.pm:811-824: GUI keys only without Sys.Audit"),
    "GET /cluster/qemu": Open("pve-manager PVE/API2/Cluster/Qemu.pm:38-44: static index"),
    "GET /cluster/resources": Open("pve-manager PVE/API2/Cluster.pm:620-638: the nodes, without figures",
                                   shows=_nodes_without_figures),
    "GET /nodes": Open("pve-manager PVE/API2/Nodes.pm:2985-2993: every node, figures need Sys.Audit",
                       shows=_nodes_without_figures),
    "GET /nodes/{node}": Open("pve-manager PVE/API2/Nodes.pm:208: static index"),
    "GET /nodes/{node}/version": Open("pve-manager PVE/API2/Nodes.pm:279: the node's version"),
    "GET /nodes/{node}/aplinfo": Open("pve-manager PVE/API2/Nodes.pm:1757-1769: the appliance list"),
    "GET /nodes/{node}/subscription": Open("pve-manager PVE/API2/Subscription.pm:214-237: status only"),
    "GET /nodes/{node}/network": Open("pve-manager PVE/API2/Network.pm:471-481: bridges need SDN.Audit|Use",
                                      shows=lambda d: d and all(i["type"] != "bridge" for i in d)),
    "GET /nodes/{node}/scan": Open("pve-storage src/PVE/API2/Storage/Scan.pm:43-56: static index"),
    "GET /nodes/{node}/hardware": Open("pve-manager PVE/API2/Hardware.pm:46-54: static index"),
    "GET /nodes/{node}/hardware/pci/{pci-id-or-mapping}": Open("pve-manager PVE/API2/Hardware/PCI.pm:164-172"),
    "GET /nodes/{node}/capabilities": Open("pve-manager PVE/API2/Capabilities.pm:57-65: static index"),
    "GET /nodes/{node}/capabilities/qemu": Open("pve-manager PVE/API2/Capabilities.pm:89-100: static index"),
    "GET /nodes/{node}/capabilities/qemu/cpu": Open("qemu-server src/PVE/API2/Qemu/CPU.pm:74-89: built-in "
                                                     "models; custom ones need Sys.Audit or Mapping.*"),
    "GET /nodes/{node}/capabilities/qemu/cpu-flags": Open("qemu-server src/PVE/API2/Qemu/CPUFlags.pm:60-67"),
    "GET /nodes/{node}/capabilities/qemu/machines": Open("qemu-server src/PVE/API2/Qemu/Machine.pm:61-99"),
    "GET /nodes/{node}/ceph/cfg": Open("pve-manager PVE/API2/Ceph/Cfg.pm:15: static index"),
    "GET /nodes/{node}/ceph/osd/{osdid}": Open("pve-manager PVE/API2/Ceph/OSD.pm:656-664: static index"),
    "GET /nodes/{node}/disks": Open("pve-storage src/PVE/API2/Disks.pm:43: static index"),
    "GET /nodes/{node}/apt": Open("pve-manager PVE/API2/APT.pm:68-79: static index"),
    "GET /nodes/{node}/firewall": Open("pve-firewall PVE/API2/Firewall/Host.pm:21: static index"),
    "GET /nodes/{node}/certificates": Open("pve-manager PVE/API2/Certificates.pm:21-46: static index"),
    "GET /nodes/{node}/certificates/acme": Open("pve-manager PVE/API2/ACME.pm:40-46: static index"),
    "GET /nodes/{node}/certificates/info": Open("pve-manager PVE/API2/Certificates.pm:66-82: public certs"),
    "GET /nodes/{node}/sdn": Open("pve-network PVE/API2/Network/SDN/Nodes/Status.pm:51-58: static index"),
    "GET /nodes/{node}/sdn/zones": Open("pve-network PVE/API2/Network/SDN/Nodes/Zones.pm:49-68: unfiltered"),
    "GET /nodes/{node}/sdn/vnets/{vnet}": Open("pve-network PVE/API2/Network/SDN/Nodes/Vnet.pm:18: index"),
    "GET /nodes/{node}/replication/{id}": Open("pve-manager PVE/API2/Replication.pm:248-275: static index"),
    "GET /nodes/{node}/tasks/{upid}": Open("pve-manager PVE/API2/Tasks.pm:262-288: static index"),
    "GET /nodes/{node}/qemu/{vmid}": Open("qemu-server src/PVE/API2/Qemu.pm:1656-1680: static index"),
    "GET /nodes/{node}/qemu/{vmid}/status": Open("qemu-server src/PVE/API2/Qemu.pm:3405-3419: index"),
    "GET /nodes/{node}/qemu/{vmid}/agent": Open("qemu-server src/PVE/API2/Qemu/Agent.pm:148-167: index"),
    "GET /nodes/{node}/qemu/{vmid}/firewall": Open("pve-firewall PVE/API2/Firewall/VM.pm:52-63: index"),
    "GET /nodes/{node}/qemu/{vmid}/snapshot/{snapname}": Open("qemu-server Qemu.pm:6257-6265: static index"),
    "GET /nodes/{node}/lxc/{vmid}": Open("pve-container src/PVE/API2/LXC.pm:660-700: static index"),
    "GET /nodes/{node}/lxc/{vmid}/status": Open("pve-container src/PVE/API2/LXC/Status.pm:32-70: index"),
    "GET /nodes/{node}/lxc/{vmid}/firewall": Open("pve-firewall PVE/API2/Firewall/VM.pm:52-63: index"),
    "GET /nodes/{node}/lxc/{vmid}/snapshot/{snapname}": Open("pve-container LXC/Snapshot.pm:255: index"),
    "GET /access": Open("pve-access-control src/PVE/API2/AccessControl.pm:65: static index"),
    "GET /access/openid": Open("pve-access-control src/PVE/API2/OpenId.pm:58: static index"),
    "GET /access/roles": Open("pve-access-control src/PVE/API2/Role.pm:53-71: every role"),
    "GET /access/roles/{roleid}": Open("pve-access-control src/PVE/API2/Role.pm:186-198"),
    "GET /access/permissions": Open("pve-access-control AccessControl.pm:553-557: one's own permissions"),
    "GET /access/users": Open("pve-access-control src/PVE/API2/User.pm:242-245: always the caller themself",
                              shows=lambda d: [u["userid"] for u in d] == [WALKER]),
    "GET /access/domains": Open("permissions.user 'world': the login form's realm list"),
    "GET /access/ticket": Open("permissions.user 'world': AccessControl.pm:184, answers null"),
    "POST /access/ticket": Open("permissions.user 'world': a login with the user's own credentials"),
    # lists that filter by privilege: nothing is left for this user
    "GET /cluster/replication": Open("pve-manager PVE/API2/ReplicationConfig.pm:66: VM.Audit", empty=True),
    "GET /cluster/mapping/dir": Open("pve-manager PVE/API2/Cluster/Mapping/Dir.pm:108", empty=True),
    "GET /cluster/mapping/pci": Open("pve-manager PVE/API2/Cluster/Mapping/PCI.pm:105", empty=True),
    "GET /cluster/mapping/usb": Open("pve-manager PVE/API2/Cluster/Mapping/USB.pm:100", empty=True),
    "GET /cluster/qemu/custom-cpu-models": Open("pve-manager Cluster/Qemu/CustomCPUModels.pm:60", empty=True),
    "GET /cluster/sdn/vnets": Open("pve-network PVE/API2/Network/SDN/Vnets.pm:194", empty=True),
    "GET /cluster/sdn/zones": Open("pve-network PVE/API2/Network/SDN/Zones.pm:292", empty=True),
    "GET /cluster/sdn/controllers": Open("pve-network PVE/API2/Network/SDN/Controllers.pm:183", empty=True),
    "GET /cluster/sdn/ipams": Open("pve-network PVE/API2/Network/SDN/Ipams.pm:83", empty=True),
    "GET /cluster/sdn/ipams/{ipam}/status": Open("pve-network SDN/Ipams.pm:356-358", empty=True),
    "GET /cluster/sdn/dns": Open("pve-network PVE/API2/Network/SDN/Dns.pm:78", empty=True),
    "GET /cluster/sdn/fabrics/fabric": Open("pve-network SDN/Fabrics/Fabric.pm:83", empty=True),
    "GET /cluster/sdn/fabrics/node": Open("pve-network SDN/Fabrics/Node.pm:100-101", empty=True),
    "GET /cluster/sdn/fabrics/all": Open("pve-network SDN/Fabrics.pm:152-164",
                                         shows=lambda d: d["fabrics"] == [] and d["nodes"] == []),
    # pve-network's prefix lists and route maps are newer than its sources at hand: the 9.2 schema's
    # permissions.description says "Only returns ... where you have 'SDN.Audit' or 'SDN.Allocate'"
    "GET /cluster/sdn/prefix-lists": Open("apidoc 9.2 permissions.description", empty=True),
    "GET /cluster/sdn/route-maps": Open("apidoc 9.2 permissions.description", empty=True),
    "GET /cluster/sdn/route-maps/entries": Open("apidoc 9.2 permissions.description", empty=True),
    "GET /cluster/log": Open("pve-manager PVE/API2/Cluster.pm:225-229: own entries", empty=True),
    "GET /cluster/tasks": Open("pve-manager PVE/API2/Cluster.pm:758-766: own tasks", empty=True),
    "GET /nodes/{node}/qemu": Open("qemu-server src/PVE/API2/Qemu.pm:1113: VM.Audit", empty=True),
    "GET /nodes/{node}/lxc": Open("pve-container src/PVE/API2/LXC.pm:129: VM.Audit", empty=True),
    "GET /nodes/{node}/storage": Open("pve-storage src/PVE/API2/Storage/Status.pm:244-245", empty=True),
    "GET /nodes/{node}/tasks": Open("pve-manager PVE/API2/Tasks.pm:184-190: own tasks", empty=True),
    "GET /nodes/{node}/replication": Open("pve-manager PVE/API2/Replication.pm:239: VM.Audit", empty=True),
    "GET /storage": Open("pve-storage src/PVE/API2/Storage/Config.pm:162-163", empty=True),
    "GET /access/groups": Open("pve-access-control src/PVE/API2/Group.pm:67", empty=True),
    "GET /access/acl": Open("pve-access-control src/PVE/API2/ACL.pm:74-85", empty=True),
    "GET /access/tfa": Open("pve-access-control src/PVE/API2/TFA.pm:296-309: own entries only",
                            shows=lambda d: [u["userid"] for u in d] == [WALKER]),
    "GET /pools": Open("pve-manager PVE/API2/Pool.pm:147: Pool.Audit", empty=True),
}

# schema checks a user passes on themself (['userid-param', 'self'], RPCEnvironment.pm:527-531)
OPEN_ON_SELF: Mapping[str, Open] = {
    "PUT /access/password": Open("AccessControl.pm:446-458: one's own password, confirmed with the old one"),
    "GET /access/permissions": Open("AccessControl.pm:553-557: userid is the caller"),
    "GET /access/users/{userid}/tfa": Open("User.pm:620-648 read_user_tfa_type"),
    "GET /access/users/{userid}/token": Open("User.pm:686 token_index"),
    "GET /access/users/{userid}/token/{tokenid}": Open("User.pm:722 read_token"),
    "POST /access/users/{userid}/token/{tokenid}": Open("User.pm:789-829 generate_token"),
    "PUT /access/users/{userid}/token/{tokenid}": Open("User.pm:833 update_token_info"),
    "DELETE /access/users/{userid}/token/{tokenid}": Open("User.pm:937 remove_token"),
    "GET /access/tfa/{userid}": Open("TFA.pm:128 list_user_tfa"),
    "GET /access/tfa/{userid}/{id}": Open("TFA.pm:163 get_tfa_entry"),
    "POST /access/tfa/{userid}": Open("TFA.pm:367: reauthenticated with the user's own password"),
    "PUT /access/tfa/{userid}/{id}": Open("TFA.pm:464: reauthenticated with the user's own password"),
    "DELETE /access/tfa/{userid}/{id}": Open("TFA.pm:228: reauthenticated with the user's own password"),
}

# refused to everyone without credentials of another kind: not a 403, and nothing changes
OTHERS: Mapping[str, Refused] = {
    "GET /nodes/{node}/qemu/{vmid}/mtunnelwebsocket": Refused(
        401, "permission denied - invalid PVETUNNEL ticket\n", "qemu-server Qemu.pm:7290, pve-common Ticket.pm:106"),
    "GET /nodes/{node}/lxc/{vmid}/mtunnelwebsocket": Refused(
        401, "permission denied - invalid PVETUNNEL ticket\n", "pve-container LXC.pm:3488, Ticket.pm:106"),
    "POST /access/vncticket": Refused(401, "authentication failure\n", "AccessControl.pm:390-394, 'world'"),
    "POST /access/openid/login": Refused(401, "authentication failure\n", "OpenId.pm:349-353, 'world'"),
    "POST /access/openid/auth-url": Refused(500, "wrong realm type (pve != openid)\n", "OpenId.pm:33, 'world'"),
}

# values for the seeded cluster, by parameter name, then per operation where a name means different things
VALUES: Mapping[str, Any] = {
    "node": "pve1", "storage": "local", "iface": "vmbr0", "sid": "vm:100", "resources": "vm:100",
    "cidr": "192.0.2.0/24", "schedule": "daily", "dns": "dns1", "ipam": "pve", "zone": "zone1",
    "vnet": "vnet1", "subnet": "zone1-10.0.0.0-24", "fabric": "fab1", "fabric_id": "fab1", "pos": 0,
    "privs": "VM.Audit", "config-keys": "global:fsid", "tokenid": TOKEN,
    "fingerprint": ":".join(["AB"] * 32), "url": "https://example.com/debian.iso", "key": "pve4c-0123456789",
    "reference": "docker.io/library/debian:latest", "prefix": "10.0.0.0/24", "roleid": "PVEAuditor",
    "url_seq": "10", "commands": json.dumps([{"path": "/version", "method": "GET"}]),
}
PER_OPERATION: Mapping[str, Mapping[str, Any]] = {
    "POST /access/ticket": {"username": WALKER, "password": PASSWORD},
    "PUT /access/password": {"password": "another-password-1", "confirmation-password": PASSWORD},
    "POST /access/tfa/{userid}": {"password": PASSWORD, "type": "recovery"},
    "PUT /access/tfa/{userid}/{id}": {"password": PASSWORD},
    "DELETE /access/tfa/{userid}/{id}": {"password": PASSWORD},
    "POST /access/users": {"userid": "new@pve"},
    "POST /access/users/{userid}/token/{tokenid}": {"tokenid": "second"},
    "POST /access/vncticket": {"authid": WALKER, "vncticket": "PVEVNC:0::invalid", "path": "/vms/100",
                               "privs": "VM.Console"},
    "POST /access/openid/auth-url": {"realm": "pve", "redirect-url": "https://pve1:8006"},
    "POST /cluster/mapping/dir": {"id": "dir1", "map": ["node=pve1,path=/mnt/share"]},
    "POST /cluster/mapping/pci": {"id": "pci1", "map": ["node=pve1,path=0000:01:00.0,id=8086:1533"]},
    "POST /cluster/mapping/usb": {"id": "usb1", "map": ["node=pve1,id=1234:5678"]},
    "PUT /cluster/mapping/usb/{id}": {"id": "usb1", "map": ["node=pve1,id=1234:5678"]},
    "POST /cluster/sdn/vnets/{vnet}/subnets": {"subnet": "10.0.0.0/24"},
    "POST /cluster/sdn/fabrics/fabric": {"id": "fab1"},
    "POST /nodes/{node}/qemu/{vmid}/remote_migrate": {
        "target-endpoint": "apitoken=PVEAPIToken=root@pam!t=00000000-0000-0000-0000-000000000000,host=192.0.2.99"},
    "POST /nodes/{node}/lxc/{vmid}/remote_migrate": {
        "target-endpoint": "apitoken=PVEAPIToken=root@pam!t=00000000-0000-0000-0000-000000000000,host=192.0.2.99"},
    "POST /nodes/{node}/certificates/custom": {"certificates": "-----BEGIN CERTIFICATE-----\nMAo=\n"
                                                               "-----END CERTIFICATE-----\n"},
    "GET /nodes/{node}/storage/{storage}/import-metadata": {"volume": "iso/debian-12.9.0-amd64-netinst.iso"},
    "GET /nodes/{node}/storage/{storage}/content/{volume}": {"volume": ISO},
    "PUT /nodes/{node}/storage/{storage}/content/{volume}": {"volume": ISO, "notes": "mine"},
    "DELETE /nodes/{node}/storage/{storage}/content/{volume}": {"volume": ISO},
    "GET /nodes/{node}/storage/{storage}/file-restore/list": {"volume": BACKUP, "filepath": "Lw=="},
    "GET /nodes/{node}/storage/{storage}/file-restore/download": {"volume": BACKUP, "filepath": "Lw=="},
    "GET /nodes/{node}/vzdump/extractconfig": {"volume": BACKUP},
    "POST /nodes/{node}/vzdump": {"vmid": "100"},
    "POST /nodes/{node}/qemu": {"vmid": "300", "memory": "1024", "scsi0": "local-lvm:4"},
    "POST /nodes/{node}/lxc": {"vmid": "300", "ostemplate": TEMPLATE, "rootfs": "local-lvm:4"},
    "POST /nodes/{node}/disks/initgpt": {"disk": "/dev/sdb"},
    "GET /nodes/{node}/disks/smart": {"disk": "/dev/sdb"},
    "PUT /nodes/{node}/disks/wipedisk": {"disk": "/dev/sdb"},
    "GET /nodes/{node}/query-oci-repo-tags": {"reference": "debian"},
}
_ID_BY_PATH = {"/cluster/replication": "100-0", "/nodes/{node}/replication": "100-0",
               "/cluster/sdn/fabrics/fabric": "fab1"}


@dataclass
class Walk:
    """One walk: the app, the walker's credentials, the state every call starts from, what went wrong."""

    app: Gateway
    client: httpx.AsyncClient
    headers: dict[str, str]
    seed: dict[str, Any]
    upid: str
    tfa_id: str = ""  # the walker's TOTP entry
    problems: list[str] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)  # calls by what PVE does with them

    def value(self, op: Operation, name: str, schema: Mapping[str, Any], target: str | None) -> Any:
        if name in PER_OPERATION.get(op.key, {}):
            return PER_OPERATION[op.key][name]
        if name == "userid" and target is not None:
            return target
        if name == "id" and any(op.path.startswith(p) for p in _ID_BY_PATH):
            return next(v for p, v in _ID_BY_PATH.items() if op.path.startswith(p))
        if name == "upid":
            return self.upid
        if name == "id" and op.path.startswith("/access/tfa/"):
            return self.tfa_id
        if name == "vmid":
            return 200 if "/lxc" in op.path else 100
        if name in VALUES:
            return VALUES[name]
        return sample(schema, name, {})

    def params(self, op: Operation, target: str | None) -> dict[str, Any]:
        props: Mapping[str, Any] = op.parameters.get("properties") or {}
        wanted = set(op.path_params) | set(PER_OPERATION.get(op.key, {})) | ({"userid"} if target else set())
        values = {name: self.value(op, name, schema, target) for name, schema in props.items()
                  if name in wanted or not schema.get("optional")}
        for name in op.path_params:  # a few of PVE's path parameters are not declared (prefix-list entries)
            values.setdefault(name, self.value(op, name, {"type": "string"}, target))
        return {k: v if isinstance(v, list) else str(v) for k, v in values.items()}  # as the wire has them

    async def state(self) -> Any:
        response = await self.client.get("/_gateway/state", headers={"Authorization": f"Bearer {CONTROL}"})
        assert response.status_code == 200
        return response.json()

    @property
    def backend(self) -> MockBackend:
        backend = self.app.backend
        assert isinstance(backend, MockBackend)
        return backend

    def restore(self) -> None:
        self.backend.reset(copy.deepcopy(self.seed))

    async def call(self, op: Operation, target: str | None) -> None:
        self.restore()
        params = self.params(op, target)
        invalid = op.validator.errors(dict(params))
        if invalid:  # else the walk would test the validator
            self.problems.append(f"{op.key}: the walk's parameters are invalid: {invalid}")
            return
        path = op.path
        for name in op.path_params:
            path = path.replace("{" + name + "}", quote(str(params.pop(name)), safe=""))
        before = await self.state()
        url = "/api2/json" + path
        if op.method in ("GET", "DELETE"):
            response = await self.client.request(op.method, url, params=params, headers=self.headers)
        else:
            response = await self.client.request(op.method, url, data=params, headers=self.headers)
        self.judge(op, target, response, before, await self.state())

    def judge(self, op: Operation, target: str | None, response: httpx.Response, before: Any, after: Any) -> None:
        label = f"{op.key}" + (f" (userid={target})" if target else "")
        body = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
        expected = OPEN_ON_SELF.get(op.key) if target == WALKER else None
        expected = expected or (OPEN.get(op.key) if target != ROOT or op.key not in OPEN_ON_SELF else None)
        other = OTHERS.get(op.key)
        self.outcomes["open" if isinstance(expected, Open) else "other" if other else "refused"] += 1
        if isinstance(expected, Open):
            if response.status_code != 200:
                self.problems.append(f"{label}: {response.status_code} {body.get('message')!r}, PVE opens it "
                                     f"({expected.why})")
            elif expected.empty and body.get("data") != []:
                self.problems.append(f"{label}: shows {str(body.get('data'))[:120]}, PVE filters it to nothing")
            elif expected.shows is not None and not expected.shows(body.get("data")):
                self.problems.append(f"{label}: shows {str(body.get('data'))[:120]}")
            return
        if other is not None:
            got = (response.status_code, body.get("message") or response.reason_phrase)
            if got != (other.status, other.message):
                self.problems.append(f"{label}: {got}, PVE answers {other.status} {other.message!r}")
        elif response.status_code != 403 or not DENIED.fullmatch(str(body.get("message"))):
            self.problems.append(f"{label}: {response.status_code} {body.get('message')!r}, PVE answers 403")
        if after != before:
            self.problems.append(f"{label}: refused, but the state changed")


async def _prepare(app: Gateway, client: httpx.AsyncClient) -> Walk:
    """The seeded cluster plus the objects PVE's in-code checks look at before they decide."""
    root = PVE(client, app, await login(client))
    await root.data("POST", "/access/users", {"userid": WALKER, "password": PASSWORD})
    await root.data("POST", f"/access/users/{WALKER}/token/{TOKEN}")
    await root.data("POST", "/cluster/sdn/zones", {"zone": "zone1", "type": "simple"})
    await root.data("POST", "/cluster/sdn/vnets", {"vnet": "vnet1", "zone": "zone1"})
    # a guest replicates ZFS volumes only, others must say replicate=0 (qemu-server QemuConfig.pm:146-171)
    await root.data("POST", "/storage", {"storage": "tank", "type": "zfspool", "pool": "rpool/data",
                                         "content": "images,rootdir"})
    for node, vmid, size in (("pve1", 100, 32), ("pve2", 101, 64)):
        await root.data("POST", f"/nodes/{node}/qemu/{vmid}/config", {
            "scsi0": f"local-lvm:vm-{vmid}-disk-0,size={size}G,replicate=0", "scsi1": "tank:1"})
    await root.data("POST", "/cluster/replication", {"id": "100-0", "type": "local", "target": "pve2"})
    upid = await root.data("POST", "/nodes/pve1/lxc/200/status/stop")
    backend = root.backend
    uri = "otpauth://totp/walker?secret=JBSWY3DPEHPK3PXP"
    tfa = await root.data("POST", f"/access/tfa/{WALKER}", {
        "type": "totp", "description": "walker", "totp": uri,
        "value": Totp.parse(uri).value(backend.mock.clock.now() // 30)})
    backend.mock.cluster.storages["local"].bucket("pve1")[BACKUP] = Volume(
        volid=BACKUP, storage="local", node="pve1", content="backup", size=1024**3, format="vma.zst", vmid=100)
    headers = await login(client, WALKER, PASSWORD)
    return Walk(app, client, headers, backend.dump(), str(upid), str(tfa["id"]))


@pytest.fixture
async def walk() -> AsyncIterator[Walk]:
    app = mock_app(MockOptions(secret=b"walk-secret", control_key=CONTROL))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://pve1:8006") as client:
        yield await _prepare(app, client)


async def test_a_user_without_privileges_gets_only_what_pve_opens_to_everyone(walk: Walk) -> None:
    operations = sorted(walk.app.schema.operations, key=lambda o: (o.path, o.method))
    for op in operations:
        props = op.parameters.get("properties") or {}
        for target in ([WALKER, ROOT] if "userid" in props else [None]):
            await walk.call(op, target)
    assert not walk.problems, "\n".join(walk.problems)
    keys = {op.key for op in operations}
    assert set(OPEN) | set(OPEN_ON_SELF) | set(OTHERS) <= keys  # no stale entry
    with_userid = sum(1 for op in operations if "userid" in (op.parameters.get("properties") or {}))
    assert (len(keys), with_userid) == (676, 18)
    # 111 operations succeed (99 for everyone, 12 more on one's own user); 5 are refused otherwise
    # (tunnel and VNC tickets, OpenID); every other call is PVE's 403
    assert walk.outcomes == {"open": 111, "other": 5, "refused": 578}
