"""The QEMU guest agent (qemu-server src/PVE/API2/Qemu/Agent.pm) and a container's interfaces
(pve-container src/PVE/LXC.pm get_interfaces) over the in-process API."""

from __future__ import annotations

import base64

from tests.mock.conftest import PVE

VM = "/nodes/pve1/qemu/100"
AGENT = VM + "/agent"


async def with_agent(pve: PVE, agent: str = "1", **extra: str) -> None:
    """VM 100 restarted with ``agent`` set: PVE reads the running config, so the option needs a restart."""
    await pve.data("POST", VM + "/status/stop")
    await pve.data("PUT", VM + "/config", {"agent": agent, **extra})
    await pve.data("POST", VM + "/status/start")


async def message(pve: PVE, method: str, path: str, data: dict[str, str] | None = None) -> str:
    response = await pve.request(method, path, data)
    assert response.status_code == 500, response.text
    text: str = response.json()["message"]
    return text


async def test_no_agent_option_is_no_agent_configured(pve: PVE) -> None:
    await pve.data("POST", VM + "/status/stop")
    await pve.data("PUT", VM + "/config", {"delete": "agent"})
    await pve.data("POST", VM + "/status/start")
    # qemu-server src/PVE/QemuServer/Agent.pm:110, before the VM's state: VM 101 is stopped too
    assert await message(pve, "POST", AGENT + "/ping") == "No QEMU guest agent configured\n"
    assert await message(pve, "GET", AGENT + "/file-read", {"file": "/etc/hostname"}) == \
        "No QEMU guest agent configured\n"
    assert await message(pve, "GET", "/nodes/pve2/qemu/101/agent/info") == "No QEMU guest agent configured\n"


async def test_agent_on_a_stopped_vm_is_not_running(pve: PVE) -> None:
    await with_agent(pve)
    await pve.data("POST", VM + "/status/stop")
    # QemuServer/Agent.pm:111
    assert await message(pve, "GET", AGENT + "/info") == "VM 100 is not running\n"


async def test_disabled_agent_is_defined_but_does_not_answer(pve: PVE) -> None:
    # Agent.pm:110 tests only that the key is defined; the ping (Agent.pm:112) then fails
    await with_agent(pve, "enabled=0")
    assert await message(pve, "POST", AGENT + "/ping") == "QEMU guest agent is not running\n"


async def test_pending_agent_option_is_not_used_until_a_restart(pve: PVE) -> None:
    await pve.data("PUT", VM + "/config", {"delete": "agent"})  # VM 100 runs: the change waits in pending
    assert await pve.data("POST", AGENT + "/ping") == {"result": {}}
    await pve.data("POST", VM + "/status/reboot")
    assert await message(pve, "POST", AGENT + "/ping") == "No QEMU guest agent configured\n"


async def test_plain_commands_answer_in_a_result_object(pve: PVE) -> None:
    await with_agent(pve)
    assert await pve.data("POST", AGENT + "/ping") == {"result": {}}
    assert (await pve.data("GET", AGENT + "/get-host-name")) == {"result": {"host-name": "web01"}}
    vcpus = (await pve.data("GET", AGENT + "/get-vcpus"))["result"]
    assert [c["logical-id"] for c in vcpus] == [0, 1]  # cores 2, sockets 1
    blocks = (await pve.data("GET", AGENT + "/get-memory-blocks"))["result"]
    assert len(blocks) == 2048 // 128
    osinfo = (await pve.data("GET", AGENT + "/get-osinfo"))["result"]
    assert osinfo["id"] == "debian" and osinfo["machine"] == "x86_64"
    assert isinstance((await pve.data("GET", AGENT + "/get-time"))["result"], int)


async def test_network_interfaces_follow_the_nics_in_qemu_ga_shape(pve: PVE) -> None:
    await with_agent(pve, ipconfig0="ip=192.168.1.5/24,gw=192.168.1.1")
    interfaces = (await pve.data("GET", AGENT + "/network-get-interfaces"))["result"]
    assert [i["name"] for i in interfaces] == ["lo", "ens18"]
    lo, nic = interfaces
    assert lo["hardware-address"] == "00:00:00:00:00:00"
    assert {"ip-address": "127.0.0.1", "ip-address-type": "ipv4", "prefix": 8} in lo["ip-addresses"]
    assert nic["hardware-address"] == "bc:24:11:00:01:00"  # net0's MAC, as the guest prints it
    assert nic["ip-addresses"] == [
        {"ip-address": "192.168.1.5", "ip-address-type": "ipv4", "prefix": 24},
        {"ip-address": "fe80::be24:11ff:fe00:100", "ip-address-type": "ipv6", "prefix": 64}]
    assert set(nic["statistics"]) == {"rx-bytes", "rx-packets", "rx-errs", "rx-dropped", "tx-bytes",
                                      "tx-packets", "tx-errs", "tx-dropped"}


async def test_exec_then_exec_status_reports_output_once(pve: PVE) -> None:
    await with_agent(pve)
    started = await pve.data("POST", AGENT + "/exec", {"command": ["echo", "hello", "world"]})
    assert set(started) == {"pid"}  # Agent.pm:363: exec's own object, no "result"
    status = await pve.data("GET", AGENT + "/exec-status", {"pid": started["pid"]})
    # QemuServer/Agent.pm:157-178: out-data decoded from base64, booleans as 1/0
    assert status == {"exited": 1, "exitcode": 0, "out-data": "hello world\n"}
    # qemu-ga forgets an exited process once reported; PVE's text for a QGA error (QMPClient.pm:175)
    assert await message(pve, "GET", AGENT + "/exec-status", {"pid": str(started["pid"])}) == \
        "VM 100 qga command 'guest-exec-status' failed - Invalid parameter 'pid'\n"


async def test_exec_feeds_input_data_and_reports_failures(pve: PVE) -> None:
    await with_agent(pve)
    pid = (await pve.data("POST", AGENT + "/exec", {"command": "cat", "input-data": "line\n"}))["pid"]
    assert (await pve.data("GET", AGENT + "/exec-status", {"pid": pid}))["out-data"] == "line\n"
    pid = (await pve.data("POST", AGENT + "/exec", {"command": "no-such-program"}))["pid"]
    status = await pve.data("GET", AGENT + "/exec-status", {"pid": pid})
    assert status["exited"] == 1 and status["exitcode"] == 127 and "out-data" not in status


async def test_file_write_then_read(pve: PVE) -> None:
    await with_agent(pve)
    assert await pve.data("POST", AGENT + "/file-write", {"file": "/root/note", "content": "hello agent"}) is None
    assert await pve.data("GET", AGENT + "/file-read", {"file": "/root/note"}) == \
        {"content": "hello agent", "bytes-read": 11}
    # Agent.pm:524-568: offset and count; stopping before the end is "truncated"
    assert await pve.data("GET", AGENT + "/file-read", {"file": "/root/note", "offset": "6", "count": "3"}) == \
        {"content": "age", "bytes-read": 3, "truncated": 1}
    raw = await pve.data("GET", AGENT + "/file-read", {"file": "/root/note", "decode": "0"})
    assert base64.b64decode(raw["content"]) == b"hello agent"
    encoded = base64.b64encode(b"pre-encoded").decode()
    await pve.data("POST", AGENT + "/file-write", {"file": "/root/b", "content": encoded, "encode": "0"})
    assert (await pve.data("GET", AGENT + "/file-read", {"file": "/root/b"}))["content"] == "pre-encoded"


async def test_file_read_of_a_missing_file_is_qga_open_error(pve: PVE) -> None:
    await with_agent(pve)
    assert await message(pve, "GET", AGENT + "/file-read", {"file": "/nope"}) == \
        "VM 100 qga command 'guest-file-open' failed - Failed to open file '/nope' (mode: 'r'): " \
        "No such file or directory\n"


async def test_frozen_agent_refuses_all_but_status_and_thaw(pve: PVE) -> None:
    await with_agent(pve)
    assert (await pve.data("POST", AGENT + "/fsfreeze-freeze"))["result"] == 1
    assert await pve.data("POST", AGENT + "/fsfreeze-status") == {"result": "frozen"}
    assert await message(pve, "POST", AGENT + "/exec", {"command": "true"}) == \
        "VM 100 qga command 'guest-exec' failed - Command guest-exec has been disabled: the agent is in frozen state\n"
    assert (await pve.data("POST", AGENT, {"command": "fsfreeze-thaw"}))["result"] == 1  # Agent.pm:246
    assert await pve.data("POST", AGENT + "/fsfreeze-status") == {"result": "thawed"}


async def test_agent_shutdown_stops_the_vm(pve: PVE) -> None:
    await with_agent(pve)
    assert await pve.data("POST", AGENT + "/shutdown") == {"result": None}
    assert (await pve.data("GET", VM + "/status/current"))["status"] == "stopped"


async def test_container_interfaces_from_its_nics(pve: PVE) -> None:
    await pve.data("PUT", "/nodes/pve1/lxc/200/config", {"net1": "name=eth1,bridge=vmbr0,hwaddr=BC:24:11:00:02:01,"
                                                                 "ip=192.168.7.9/24,ip6=fd00::9/64"})
    interfaces = await pve.data("GET", "/nodes/pve1/lxc/200/interfaces")
    assert [i["name"] for i in interfaces] == ["lo", "eth0", "eth1"]
    eth1 = interfaces[2]
    # LXC.pm:1276-1296: inet/inet6 the family's last address, hwaddr = hardware-address
    assert eth1["hwaddr"] == eth1["hardware-address"] == "bc:24:11:00:02:01"
    assert eth1["inet"] == "192.168.7.9/24" and eth1["inet6"] == "fe80::be24:11ff:fe00:201/64"
    assert eth1["ip-addresses"][:2] == [{"ip-address-type": "inet", "ip-address": "192.168.7.9", "prefix": 24},
                                        {"ip-address-type": "inet6", "ip-address": "fd00::9", "prefix": 64}]
    assert interfaces[1]["inet"].startswith("10.")  # ip=dhcp: an address the DHCP server gave


async def test_stopped_container_has_no_interfaces(pve: PVE) -> None:
    await pve.data("POST", "/nodes/pve1/lxc/200/status/stop")
    # LXC.pm:1265-1266: no pid to enter, nothing returned
    assert await pve.data("GET", "/nodes/pve1/lxc/200/interfaces") is None


async def test_a_vm_made_anew_under_the_same_vmid_has_none_of_the_old_files(pve: PVE) -> None:
    await with_agent(pve)
    await pve.data("POST", AGENT + "/file-write", {"file": "/root/old", "content": "x"})
    await pve.data("POST", VM + "/status/stop")
    await pve.data("DELETE", VM)
    await pve.data("POST", "/nodes/pve1/qemu", {"vmid": "100", "agent": "1", "scsi0": "local-lvm:1",
                                                "net0": "virtio,bridge=vmbr0", "start": "1"})
    assert await message(pve, "GET", AGENT + "/file-read", {"file": "/root/old"}) == \
        "VM 100 qga command 'guest-file-open' failed - Failed to open file '/root/old' (mode: 'r'): " \
        "No such file or directory\n"
