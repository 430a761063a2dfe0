"""SDN over a real socket: the written configuration, the running one the last apply committed, the lock.

pve-network src/PVE/Network/SDN.pm (pending_config, commit_config, lock_sdn_config) and
src/PVE/API2/Network/SDN.pm (lock, release_lock, rollback, reload).
"""

from __future__ import annotations

from typing import Any

import requests

from pvegateway.testing import PVEMock
from tests.test_testing import login

ZONES = "/cluster/sdn/zones"
LOCKED = "invalid lock token provided! at /usr/share/perl5/PVE/Network/SDN.pm line 291.\n"  # SDN.pm:291


def _ok(answer: requests.Response) -> Any:
    assert answer.status_code == 200, (answer.status_code, answer.text)
    return answer.json()["data"]


def _message(answer: requests.Response) -> tuple[int, Any]:
    return answer.status_code, answer.json().get("message")


def test_pending_and_running_follow_apply_and_rollback(pve_mock: PVEMock) -> None:
    with login(pve_mock) as session:
        url = pve_mock.api_url

        def zones(**params: Any) -> list[dict[str, Any]]:
            # PVE's pending and running configurations have no digest: which form it takes is not pinned here
            found = _ok(session.get(f"{url}{ZONES}", params=params, timeout=10))
            other = params.get("pending") or params.get("running")
            return [{k: v for k, v in z.items() if k != "digest" or not other} for z in found]

        _ok(session.post(f"{url}{ZONES}", data={"zone": "z1", "type": "simple"}, timeout=10))
        # SDN.pm:161-183: never applied, the zone is new; its values but type are pending
        assert zones(pending=1) == [{"zone": "z1", "type": "simple", "state": "new", "pending": {}}]
        assert zones(running=1) == []
        upid = _ok(session.put(f"{url}/cluster/sdn", timeout=10))
        assert upid.split(":")[5] == "reloadnetworkall"  # API2/Network/SDN.pm:327
        # committed before the task runs (API2/Network/SDN.pm:298-308)
        assert [z["zone"] for z in zones(running=1)] == ["z1"]
        assert zones(pending=1) == [{"zone": "z1", "type": "simple"}]
        _ok(session.put(f"{url}{ZONES}/z1", data={"mtu": 1400}, timeout=10))
        changed = _ok(session.get(f"{url}{ZONES}/z1", params={"pending": 1}, timeout=10))
        assert (changed["state"], changed["pending"]) == ("changed", {"mtu": 1400})  # SDN.pm:172-180
        _ok(session.delete(f"{url}{ZONES}/z1", timeout=10))
        assert zones() == []
        assert zones(pending=1) == [{"zone": "z1", "type": "simple", "state": "deleted", "pending": {}}]  # :146-158
        _ok(session.post(f"{url}/cluster/sdn/rollback", timeout=10))  # API2/Network/SDN.pm:235-251
        back = zones()
        assert [(z["zone"], z.get("mtu")) for z in back] == [("z1", None)]


def test_a_subnet_is_pending_under_its_zone_derived_id(pve_mock: PVEMock) -> None:
    """API2/Network/SDN/Subnets.pm:221-225: the id is '<zone>-<cidr with - for />'."""
    with login(pve_mock) as session:
        url = pve_mock.api_url
        _ok(session.post(f"{url}{ZONES}", data={"zone": "z1", "type": "simple"}, timeout=10))
        _ok(session.post(f"{url}/cluster/sdn/vnets", data={"vnet": "v1", "zone": "z1"}, timeout=10))
        subnets = f"{url}/cluster/sdn/vnets/v1/subnets"
        _ok(session.post(subnets, data={"subnet": "10.0.0.0/24", "type": "subnet", "gateway": "10.0.0.1"},
                         timeout=10))
        # pve-network src/PVE/Network/SDN/Subnets.pm:19-38: a read adds what the id says; the vnet is the
        # section's (SubnetPlugin), the DHCP ranges parsed (API2/Network/SDN/Subnets.pm:27-35)
        shown = _ok(session.get(f"{subnets}/z1-10.0.0.0-24", timeout=10))
        assert {k: shown[k] for k in ("id", "vnet", "cidr", "zone", "network", "mask", "dhcp-range")} == {
            "id": "z1-10.0.0.0-24", "vnet": "v1", "cidr": "10.0.0.0/24", "zone": "z1", "network": "10.0.0.0",
            "mask": "24", "dhcp-range": []}
        new = _ok(session.get(f"{subnets}/z1-10.0.0.0-24", params={"pending": 1}, timeout=10))
        assert new["vnet"] == "v1" and "vnet" not in new["pending"]  # SDN.pm:169-170: vnet stays on top
        assert (new["subnet"], new["state"], new["pending"]["gateway"]) == ("z1-10.0.0.0-24", "new", "10.0.0.1")
        _ok(session.put(f"{url}/cluster/sdn", timeout=10))
        applied = _ok(session.get(f"{subnets}/z1-10.0.0.0-24", params={"running": 1}, timeout=10))
        assert applied["gateway"] == "10.0.0.1" and "digest" not in applied  # the running config has none


def test_the_lock_guards_every_write(pve_mock: PVEMock) -> None:
    with login(pve_mock) as session:
        url = pve_mock.api_url
        _ok(session.post(f"{url}{ZONES}", data={"zone": "z1", "type": "simple"}, timeout=10))
        # API2/Network/SDN.pm:147-155
        assert _message(session.post(f"{url}/cluster/sdn/lock", timeout=10)) == (
            500, "could not acquire lock for SDN config: configuration has pending changes at "
                 "/usr/share/perl5/PVE/API2/Network/SDN.pm line 149.\n")
        _ok(session.put(f"{url}/cluster/sdn", timeout=10))
        token = _ok(session.post(f"{url}/cluster/sdn/lock", timeout=10))
        assert _message(session.post(f"{url}/cluster/sdn/lock", timeout=10)) == (
            500, f"could not acquire lock for SDN config: {LOCKED}")
        # Zones.pm:410-444: under lock_sdn_config, the write's own prefix; nothing is written
        assert _message(session.post(f"{url}{ZONES}", data={"zone": "z2", "type": "simple"}, timeout=10)) == (
            500, f"create sdn zone object failed: {LOCKED}")
        assert _message(session.put(f"{url}{ZONES}/z1", data={"mtu": 1400, "lock-token": "other"}, timeout=10)) == (
            500, f"update sdn zone object failed: {LOCKED}")
        assert _message(session.delete(f"{url}{ZONES}/z1", timeout=10)) == (
            500, f"delete sdn zone object failed: {LOCKED}")
        assert _message(session.put(f"{url}/cluster/sdn", timeout=10)) == (
            500, f"could not commit SDN config: {LOCKED}")
        assert [z["zone"] for z in _ok(session.get(f"{url}{ZONES}", timeout=10))] == ["z1"]
        _ok(session.post(f"{url}{ZONES}", data={"zone": "z2", "type": "simple", "lock-token": token}, timeout=10))
        assert _message(session.delete(f"{url}/cluster/sdn/lock", params={"lock-token": "x"}, timeout=10)) == (
            500, f"could not release lock: {LOCKED}")
        # API2/Network/SDN.pm:304: a commit with the token releases the lock
        _ok(session.put(f"{url}/cluster/sdn", data={"lock-token": token}, timeout=10))
        _ok(session.post(f"{url}{ZONES}", data={"zone": "z3", "type": "simple"}, timeout=10))
        _ok(session.post(f"{url}/cluster/sdn/lock", data={"allow-pending": 1}, timeout=10))
        _ok(session.delete(f"{url}/cluster/sdn/lock", params={"force": 1}, timeout=10))  # :190-191
        _ok(session.post(f"{url}{ZONES}", data={"zone": "z4", "type": "simple"}, timeout=10))


def test_applied_zones_are_network_resources(pve_mock: PVEMock) -> None:
    """pve-manager PVE/API2/Cluster.pm:661-725: 9.x nodes report 'network' rows (so no 'sdn' ones): the
    default localnetwork zone, and the zones of the running configuration (PVE/Service/pvestatd.pm:780-800)."""
    with login(pve_mock) as session:
        url = pve_mock.api_url

        def rows() -> list[dict[str, Any]]:
            found = _ok(session.get(f"{url}/cluster/resources", timeout=10))
            return [r for r in found if r["type"] in ("network", "sdn") and r["node"] == "pve1"]

        assert rows() == [{"id": "network/pve1/zone/localnetwork", "type": "network", "network-type": "zone",
                           "network": "localnetwork", "node": "pve1", "status": "ok"}]
        _ok(session.post(f"{url}{ZONES}", data={"zone": "z1", "type": "simple"}, timeout=10))
        assert len(rows()) == 1  # not applied yet
        _ok(session.put(f"{url}/cluster/sdn", timeout=10))
        assert rows()[1] == {"id": "network/pve1/zone/z1", "node": "pve1", "type": "network",
                             "network-type": "zone", "network": "z1", "status": "available", "zone-type": "simple"}


def test_applied_vnets_are_bridges_of_the_nodes_their_zone_spans(pve_mock: PVEMock) -> None:
    """pve-manager PVE/API2/Network.pm:430-453: 'any_bridge' lists the node's vnets of the running
    configuration (pve-network src/PVE/Network/SDN.pm:311-351 get_local_vnets); a guest plugs into one
    once applied, as into a bridge."""
    with login(pve_mock) as session:
        url = pve_mock.api_url
        _ok(session.post(f"{url}{ZONES}", data={"zone": "z1", "type": "simple", "nodes": "pve2"}, timeout=10))
        _ok(session.post(f"{url}/cluster/sdn/vnets", data={"vnet": "v1", "zone": "z1", "alias": "lab"}, timeout=10))
        _ok(session.put(f"{url}/nodes/pve2/qemu/101/config", data={"net1": "virtio,bridge=v1"}, timeout=10))

        def bridges(node: str) -> dict[str, dict[str, Any]]:
            found = _ok(session.get(f"{url}/nodes/{node}/network", params={"type": "any_bridge"}, timeout=10))
            return {e["iface"]: e for e in found}

        def start() -> str:
            upid = _ok(session.post(f"{url}/nodes/pve2/qemu/101/status/start", timeout=10))
            pve_mock.control.finish_tasks()
            status: str = _ok(session.get(f"{url}/nodes/pve2/tasks/{upid}/status", timeout=10))["exitstatus"]
            return status

        assert "v1" not in bridges("pve2")
        assert start() == "bridge 'v1' does not exist"
        _ok(session.put(f"{url}/cluster/sdn", timeout=10))
        pve_mock.control.finish_tasks()
        assert bridges("pve2")["v1"] == {"iface": "v1", "type": "vnet", "active": "1", "ipam": 0, "vlanaware": 0,
                                         "comments": "lab"}
        assert "v1" not in bridges("pve1")  # the zone spans pve2 only
        assert start() == "OK"


def test_a_zone_names_existing_dns_servers_and_ipams(pve_mock: PVEMock) -> None:
    """pve-network src/PVE/Network/SDN/Ipams.pm:101-106: the 'pve' IPAM is built in. API2/Network/SDN/
    Zones.pm:421-436 check what a zone names inside lock_sdn_config, whose "$errmsg: $err" (SDN.pm:306)
    stringifies the parameter error (pve-common src/PVE/Exception.pm stringify)."""
    with login(pve_mock) as session:
        url = pve_mock.api_url
        assert _ok(session.get(f"{url}/cluster/sdn/ipams", timeout=10)) == [{"ipam": "pve", "type": "pve"}]
        assert _message(session.post(f"{url}/cluster/sdn/ipams", data={"ipam": "pve", "type": "pve"}, timeout=10)) == (
            500, "create sdn ipam object failed: sdn ipam object ID 'pve' already defined\n")  # Ipams.pm:160
        prefix = "create sdn zone object failed: 400 Parameter verification failed.\n"
        assert _message(session.post(f"{url}{ZONES}", data={"zone": "z1", "type": "simple", "ipam": "netbox1"},
                                     timeout=10)) == (500, f"{prefix}ipam: netbox1 not existing\n")
        assert _message(session.post(f"{url}{ZONES}", data={"zone": "z1", "type": "simple", "dns": "pdns1"},
                                     timeout=10)) == (500, f"{prefix}dns: pdns1 don't exist\n")
        assert _ok(session.get(f"{url}{ZONES}", timeout=10)) == []
        _ok(session.post(f"{url}{ZONES}", data={"zone": "z1", "type": "simple", "ipam": "pve"}, timeout=10))
