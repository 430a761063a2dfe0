"""Ansible's community.proxmox collection (from the `ansible` package) runs a playbook against the
served mock: its modules drive PVE through proxmoxer and decide from PVE's answers whether anything
changed, so a second run of the same play must change nothing.

The oracle is the collection's own code (what it reads back, what it compares) and the state it leaves.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pvegateway import statedir
from pvegateway.testing import DEFAULT_PASSWORD, mock_gateway
from tests.live import live_server

ANSIBLE_PLAYBOOK = Path(sys.executable).with_name("ansible-playbook")
# the first agent-reported address that is not loopback's, as an inventory's `compose` picks it
COMPOSED_HOST = ("(proxmox_agent_interfaces | default([]) | rejectattr('name', 'eq', 'lo') "
                 "| map(attribute='ip-addresses') | flatten | first | default('')).split('/')[0]")
TEMPLATE = "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"  # in the default seed


def play(port: int) -> list[dict[str, Any]]:
    api = {"api_host": "127.0.0.1", "api_port": port, "api_user": "root@pam", "api_password": DEFAULT_PASSWORD,
           "validate_certs": True}
    tasks: list[dict[str, Any]] = [
        {"name": "a VM", "community.proxmox.proxmox_kvm": {
            **api, "node": "pve1", "vmid": 150, "name": "ans01", "memory": 1024, "cores": 2,
            "scsihw": "virtio-scsi-single", "scsi": {"scsi0": "local-lvm:8"}, "net": {"net0": "virtio,bridge=vmbr0"},
            "ostype": "l26", "state": "present", "timeout": 30}},
        {"name": "started", "community.proxmox.proxmox_kvm": {**api, "node": "pve1", "vmid": 150,
                                                              "state": "started", "timeout": 30}},
        {"name": "a snapshot", "community.proxmox.proxmox_snap": {**api, "vmid": 150, "snapname": "pre",
                                                                  "state": "present", "timeout": 30}},
        {"name": "a container", "community.proxmox.proxmox": {
            **api, "node": "pve1", "vmid": 250, "hostname": "ct250", "ostemplate": TEMPLATE, "cores": 1,
            "memory": 512, "disk": "local-lvm:4", "netif": {"net0": "name=eth0,bridge=vmbr0,ip=dhcp"},
            "password": "ct-root-password", "state": "present", "timeout": 30}},
        {"name": "a pool", "community.proxmox.proxmox_pool": {**api, "poolid": "team", "comment": "ansible"}},
        {"name": "the VM in it", "community.proxmox.proxmox_pool_member": {
            **api, "poolid": "team", "member": "150", "type": "vm"}},
        {"name": "what the cluster says", "register": "info", "community.proxmox.proxmox_vm_info": {
            **api, "node": "pve1", "vmid": 150}},
        {"name": "as it should", "ansible.builtin.assert": {"that": [
            "info.proxmox_vms | length == 1", "info.proxmox_vms[0].name == 'ans01'",
            "info.proxmox_vms[0].status == 'running'"]}},
    ]
    return [{"hosts": "localhost", "gather_facts": False, "tasks": tasks}]


def run(playbook: Path, certificate: str) -> dict[str, Any]:
    env = {**os.environ, "REQUESTS_CA_BUNDLE": certificate, "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
           "ANSIBLE_NOCOLOR": "1", "ANSIBLE_LOCALHOST_WARNING": "0", "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
           "PYTHONWARNINGS": "ignore"}
    done = subprocess.run(  # nosec B603 # the venv's own ansible-playbook, fixed arguments
        [str(ANSIBLE_PLAYBOOK), "-i", "localhost,", "-c", "local", str(playbook)],
        capture_output=True, text=True, timeout=300, env=env, check=False)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def changed(result: dict[str, Any]) -> dict[str, bool]:
    return {task["task"]["name"]: bool(task["hosts"]["localhost"].get("changed"))
            for task in result["plays"][0]["tasks"]}


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    return statedir.certificate(tmp_path_factory.mktemp("tls"))


def test_a_playbook_builds_its_cluster_and_a_second_run_changes_nothing(
        certificate: tuple[Path, Path, str], tmp_path: Path) -> None:
    cert, key, _ = certificate
    gateway = mock_gateway(secret=b"ansible")
    with live_server(gateway, certfile=str(cert), keyfile=str(key)) as url:
        playbook = tmp_path / "site.yml"
        playbook.write_text(json.dumps(play(int(url.rsplit(":", 1)[1]))))  # JSON is YAML
        first = changed(run(playbook, str(cert)))
        second = changed(run(playbook, str(cert)))
    assert first == {"a VM": True, "started": True, "a snapshot": True, "a container": True, "a pool": True,
                     "the VM in it": True, "what the cluster says": False, "as it should": False}
    assert not any(second.values()), second
    cluster = gateway.backend.mock.cluster  # type: ignore[attr-defined]
    vm, ct = cluster.guests[150], cluster.guests[250]
    assert (vm.node, vm.status, list(vm.snapshots), vm.pool) == ("pve1", "running", ["pre"], "team")
    assert vm.config["scsi0"].startswith("local-lvm:vm-150-disk-0") and ct.config["hostname"] == "ct250"


def inventory(config: Path, certificate: str) -> dict[str, Any]:
    env = {**os.environ, "REQUESTS_CA_BUNDLE": certificate, "ANSIBLE_NOCOLOR": "1", "PYTHONWARNINGS": "ignore",
           "ANSIBLE_INVENTORY_UNPARSED_FAILED": "1"}
    done = subprocess.run(  # nosec B603 # the venv's own ansible-inventory, fixed arguments
        [str(ANSIBLE_PLAYBOOK.with_name("ansible-inventory")), "-i", str(config), "--list"],
        capture_output=True, text=True, timeout=120, env=env, check=False)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    listed: dict[str, Any] = plain(json.loads(done.stdout))
    return listed


def plain(value: Any) -> Any:
    """ansible-inventory's JSON with its markers of untrusted strings (``{"__ansible_unsafe": s}``) undone."""
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def test_the_inventory_plugin_lists_guests_with_their_agent_and_container_addresses(
        certificate: tuple[Path, Path, str], tmp_path: Path) -> None:
    """community.proxmox's inventory (want_facts): hosts by name, groups by node, type and state, and
    addresses from the QEMU guest agent and the container's interfaces, ansible_host composed from them."""
    cert, key, _ = certificate
    gateway = mock_gateway(secret=b"ansible-inventory")
    with live_server(gateway, certfile=str(cert), keyfile=str(key)) as url:
        from proxmoxer import ProxmoxAPI

        prox = ProxmoxAPI("127.0.0.1", port=int(url.rsplit(":", 1)[1]), user="root@pam", password=DEFAULT_PASSWORD,
                          verify_ssl=str(cert))
        prox.nodes("pve1").qemu(100).config.put(agent="1")  # qemu-guest-agent installed and enabled
        agent = prox.nodes("pve1").qemu(100).agent("network-get-interfaces").get()["result"]
        prox._store["session"].close()
        config = tmp_path / "cluster.proxmox.yml"
        config.write_text(json.dumps({
            "plugin": "community.proxmox.proxmox", "url": url, "user": "root@pam", "password": DEFAULT_PASSWORD,
            "validate_certs": True, "want_facts": True, "want_proxmox_nodes_ansible_host": False,
            "compose": {"ansible_host": COMPOSED_HOST},
        }))
        listed = inventory(config, str(cert))
    hostvars = listed["_meta"]["hostvars"]
    assert {"web01", "db01", "proxy01"} <= set(hostvars)
    assert set(listed["proxmox_all_running"]["hosts"]) >= {"web01", "proxy01"}
    assert "db01" in listed["proxmox_all_stopped"]["hosts"]
    assert "web01" in listed["proxmox_pve1_qemu"]["hosts"] and "proxy01" in listed["proxmox_pve1_lxc"]["hosts"]
    web = hostvars["web01"]
    names = [iface["name"] for iface in web["proxmox_agent_interfaces"]]
    assert "lo" in names and len(names) == len(agent)
    nic = next(i for i in agent if i["name"] != "lo")
    assert nic["hardware-address"].upper() == "BC:24:11:00:01:00"  # the MAC of the VM's net0
    ipv4 = next(a["ip-address"] for a in nic["ip-addresses"] if a["ip-address-type"] == "ipv4")
    assert web["ansible_host"] == ipv4
    eth0 = next(i for i in hostvars["proxy01"]["proxmox_lxc_interfaces"] if i["name"] == "eth0")
    assert eth0["hwaddr"].upper() == "BC:24:11:00:02:00" and eth0.get("inet")


def firewall_and_backup_play(port: int) -> list[dict[str, Any]]:
    api = {"api_host": "127.0.0.1", "api_port": port, "api_user": "root@pam", "api_password": DEFAULT_PASSWORD,
           "validate_certs": True}
    tasks: list[dict[str, Any]] = [
        {"name": "cluster rules", "community.proxmox.proxmox_firewall": {**api, "level": "cluster", "state": "present",
         "rules": [{"type": "in", "action": "ACCEPT", "proto": "tcp", "dport": "22", "pos": 0, "enable": True},
                   {"type": "in", "action": "DROP", "source": "203.0.113.0/24", "pos": 1, "enable": True}]}},
        {"name": "a security group", "community.proxmox.proxmox_firewall": {
            **api, "group_conf": True, "state": "present", "group": "web"}},
        {"name": "aliases", "community.proxmox.proxmox_firewall": {**api, "state": "present", "aliases": [
            {"name": "office", "cidr": "198.51.100.0/24"}]}},
        {"name": "an IP set", "community.proxmox.proxmox_firewall": {**api, "ip_sets": [
            {"name": "hypervisors", "comment": "PVE hosts", "cidrs": [
                {"cidr": "192.0.2.11", "comment": "pve1"}, {"cidr": "192.0.2.12", "nomatch": True}]}]}},
        {"name": "backup VM 100", "register": "backup", "community.proxmox.proxmox_backup": {
            **api, "storage": "local", "mode": "include", "vmids": [100], "node": "pve1", "wait": True,
            "wait_timeout": 30}},
        {"name": "the backups", "register": "content", "community.proxmox.proxmox_storage_contents_info": {
            **api, "storage": "local", "node": "pve1", "content": "backup"}},
        {"name": "one backup of VM 100", "ansible.builtin.assert": {"that": [
            "content.proxmox_storage_content | length == 1", "content.proxmox_storage_content[0].vmid == 100"]}},
    ]
    return [{"hosts": "localhost", "gather_facts": False, "tasks": tasks}]


def test_a_playbook_sets_the_firewall_and_backs_up(certificate: tuple[Path, Path, str], tmp_path: Path) -> None:
    """The collection's firewall module (rules, security group, alias, IP set) and its backup module
    (vzdump, waiting for the task), then the storage's content as the collection reads it."""
    cert, key, _ = certificate
    gateway = mock_gateway(secret=b"ansible-firewall")
    with live_server(gateway, certfile=str(cert), keyfile=str(key)) as url:
        playbook = tmp_path / "firewall.yml"
        playbook.write_text(json.dumps(firewall_and_backup_play(int(url.rsplit(":", 1)[1]))))
        result = changed(run(playbook, str(cert)))
    assert result["cluster rules"] and result["a security group"] and result["backup VM 100"]
    store = gateway.backend.mock.cluster.store  # type: ignore[attr-defined]
    rules = store.lists["/cluster/firewall/rules"]
    assert [(r["action"], r.get("dport"), r.get("source")) for r in rules] == [
        ("ACCEPT", "22", None), ("DROP", None, "203.0.113.0/24")]
    assert "web" in store.sections["/cluster/firewall/groups"]
    assert store.sections["/cluster/firewall/aliases"]["office"]["cidr"] == "198.51.100.0/24"
    assert [e["cidr"] for e in store.lists["/cluster/firewall/ipset/hypervisors"]] == ["192.0.2.11", "192.0.2.12"]
