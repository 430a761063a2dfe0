"""A node's network configuration over a real socket: writes wait in ``interfaces.new`` until applied.

pve-manager PVE/API2/Network.pm writes through pve-common's INotify (src/PVE/INotify.pm:45: the file's
shadow is /etc/network/interfaces.new) and checks with src/PVE/Network/Interfaces.pm's writer.
"""

from __future__ import annotations

from typing import Any

import requests

from pvegateway.testing import PVEMock
from tests.test_testing import login

NET = "/nodes/pve1/network"


def _ok(answer: requests.Response) -> Any:
    assert answer.status_code == 200, (answer.status_code, answer.text)
    return answer.json()["data"]


def _index(pve: PVEMock, session: requests.Session) -> tuple[dict[str, dict[str, Any]], str | None]:
    body = session.get(f"{pve.api_url}{NET}", timeout=10).json()
    return {e["iface"]: e for e in body["data"]}, body.get("changes")


def _refused(answer: requests.Response) -> tuple[int, Any]:
    body = answer.json()
    return answer.status_code, body.get("errors") or body.get("message")


def test_a_new_bridge_waits_in_interfaces_new_until_applied(pve_mock: PVEMock) -> None:
    with login(pve_mock) as session:
        url = pve_mock.api_url
        _, changes = _index(pve_mock, session)
        assert changes is None  # Network.pm:414-418: no 'changes' while nothing waits
        _ok(session.post(f"{url}{NET}", data={"iface": "vmbr5", "type": "bridge", "autostart": 1,
                                              "cidr": "192.0.2.5/24", "comments": "lab"}, timeout=10))
        ifaces, changes = _index(pve_mock, session)
        # Network.pm:659-672: cidr as address and netmask, a static IPv4 method; not up yet (no 'active')
        new = ifaces["vmbr5"]
        assert (new["address"], new["netmask"], new["cidr"], new["method"], new["families"]) == (
            "192.0.2.5", "24", "192.0.2.5/24", "static", ["inet"])
        assert "active" not in new and ifaces["vmbr0"]["active"] == 1
        # INotify.pm:66-84: 'diff -u' of the file in force and interfaces.new; the stanza as
        # Interfaces.pm:549-640 writes a bridge
        assert changes is not None
        lines = changes.splitlines()
        assert lines[0].startswith("--- /etc/network/interfaces\t")
        assert lines[1].startswith("+++ /etc/network/interfaces.new\t")
        assert "+auto vmbr5" in lines and "+iface vmbr5 inet static" in lines
        assert "+\taddress 192.0.2.5/24" in lines and "+\tbridge-ports none" in lines and "+#lab" in lines
        upid = _ok(session.put(f"{url}{NET}", timeout=10))
        assert upid.split(":")[5:7] == ["srvreload", "networking"]  # Network.pm:948
        pve_mock.control.finish_tasks()
        ifaces, changes = _index(pve_mock, session)
        assert changes is None and ifaces["vmbr5"]["active"] == 1  # Network.pm:921: renamed, ifreload -a


def test_reverting_drops_what_waits(pve_mock: PVEMock) -> None:
    with login(pve_mock) as session:
        url = pve_mock.api_url
        _ok(session.post(f"{url}{NET}", data={"iface": "vmbr6", "type": "bridge"}, timeout=10))
        # Network.pm:789: an update without the address leaves the bridge unaddressed ('manual')
        _ok(session.put(f"{url}{NET}/vmbr0", data={"type": "bridge", "comments": "uplink"}, timeout=10))
        edited = _ok(session.get(f"{url}{NET}/vmbr0", timeout=10))
        assert (edited["comments"], edited["method"]) == ("uplink", "manual")
        _ok(session.delete(f"{url}{NET}", timeout=10))  # Network.pm:511: unlink interfaces.new
        ifaces, changes = _index(pve_mock, session)
        assert "vmbr6" not in ifaces and changes is None
        assert "comments" not in ifaces["vmbr0"] and ifaces["vmbr0"]["method"] == "static"


def test_a_guest_plugs_into_the_bridges_in_force(pve_mock: PVEMock) -> None:
    """A bridge removed but not applied is still up: the stopped VM 101 (net0 on vmbr0, on pve2) starts."""
    with login(pve_mock) as session:
        url = pve_mock.api_url
        _ok(session.delete(f"{url}/nodes/pve2/network/vmbr0", timeout=10))
        upid = _ok(session.post(f"{url}/nodes/pve2/qemu/101/status/start", timeout=10))
        pve_mock.control.finish_tasks()
        status = _ok(session.get(f"{url}/nodes/pve2/tasks/{upid}/status", timeout=10))
        assert status["exitstatus"] == "OK"


def test_the_api_checks_as_network_pm_does(pve_mock: PVEMock) -> None:
    with login(pve_mock) as session:
        url = pve_mock.api_url
        before = _index(pve_mock, session)

        def post(**data: Any) -> tuple[int, Any]:
            return _refused(session.post(f"{url}{NET}", data=data, timeout=10))

        assert post(iface="vmbr0", type="bridge") == (400, {"iface": "interface already exists"})  # :649
        # :517-529: one default gateway, on vmbr0 already
        assert post(iface="vmbr7", type="bridge", cidr="198.51.100.2/24", gateway="198.51.100.1") == (
            400, {"gateway": "Default gateway already exists on interface 'vmbr0'."})
        # :536-567: eno1 is vmbr0's port
        assert post(iface="vmbr7", type="bridge", bridge_ports="eno1") == (
            400, {"bridge_ports": "eno1 is already used on interface 'vmbr0'."})
        # :596-598
        assert post(iface="vmbr7", type="bridge", cidr="198.51.100.2/24", address="198.51.100.2",
                    netmask="255.255.255.0") == (
            400, {"address": "address conflicts with cidr"})
        # :679-685 (an OVS internal port needs an OVS bridge)
        assert post(iface="ovsint0", type="OVSIntPort") == (400, {"ovs_bridge": "parameter is required"})
        assert post(iface="ovsint0", type="OVSIntPort", ovs_bridge="vmbr0") == (
            400, {"ovs_bridge": "interface 'vmbr0' is no OVS bridge"})
        # the writer's checks, pve-common src/PVE/Network/Interfaces.pm
        assert post(iface="bond0", type="bond", slaves="eno9") == (
            500, "bond 'bond0' - unable to find slave 'eno9'\n")  # :900
        assert post(iface="bond1", type="bond", slaves="vmbr0") == (
            500, "bond 'bond1' - wrong interface type on slave 'vmbr0' ('bridge' != 'eth or bond')\n")  # :901-903
        assert post(iface="vmbr9", type="OVSBridge", ovs_ports="mgmt0") == (
            500, "OVS bridge 'vmbr9' - unable to find port 'mgmt0'\n")  # :854
        assert post(iface="vlan5", type="vlan") == (
            500, "missing vlan-raw-device option at /usr/share/perl5/PVE/Network/Interfaces.pm line 954.\n")
        assert post(iface="vlan7", type="vlan", **{"vlan-raw-device": "eno9"}) == (
            500, "vlan 'vlan7' - unable to find parent 'eno9'\n")  # :969
        # Network.pm:750, :977
        missing = {"iface": "interface does not exist"}
        assert _refused(session.put(f"{url}{NET}/vmbr9", data={"type": "bridge"}, timeout=10)) == (400, missing)
        assert _refused(session.delete(f"{url}{NET}/vmbr9", timeout=10)) == (400, missing)
        # Interfaces.pm:1023: vmbr0 would lose its port
        assert _refused(session.delete(f"{url}{NET}/eno1", timeout=10)) == (
            500, "bridge 'vmbr0' - unable to find bridge port 'eno1'\n")
        assert _index(pve_mock, session) == before  # nothing refused was kept


def test_a_bond_and_its_primary(pve_mock: PVEMock) -> None:
    """Interfaces.pm:890-910: a bond's slaves are ethernet ports (started with it), its primary one of them."""
    with login(pve_mock) as session:
        url = pve_mock.api_url
        for name in ("eno2", "eno3"):
            _ok(session.post(f"{url}{NET}", data={"iface": name, "type": "eth"}, timeout=10))
        refused = session.post(f"{url}{NET}", data={"iface": "bond0", "type": "bond", "slaves": "eno2 eno3",
                                                    "bond_mode": "active-backup", "bond-primary": "eno4"}, timeout=10)
        assert _refused(refused) == (500, "bond 'bond0' - bond-primary interface is not a slave at "
                                          "/usr/share/perl5/PVE/Network/Interfaces.pm line 908.\n")
        _ok(session.post(f"{url}{NET}", data={"iface": "bond0", "type": "bond", "slaves": "eno2 eno3",
                                              "bond_mode": "active-backup", "bond-primary": "eno3"}, timeout=10))
        ifaces, changes = _index(pve_mock, session)
        assert ifaces["eno2"]["autostart"] == 1 and ifaces["bond0"]["slaves"] == "eno2 eno3"
        assert changes is not None and "+\tbond-primary eno3" in changes.splitlines()
