"""What the QEMU guest agent inside a VM answers (qemu-ga's ``guest-*`` commands), in qemu-ga's shapes.

The guest is made up from the VM's config, the same way every time: a Debian 12 system, or Windows
Server 2022 for ``ostype: win*``; its disks, vCPUs, memory and NICs (``_guest_net``) are the config's.
What the agent keeps between calls (files, processes, the freeze) is the cluster's ``GuestAgent``.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from typing import Any

from ....errors import PVEError
from ..runtime import Mock
from ..state import AgentProcess, Guest, GuestAgent
from . import _metrics as m
from ._guest_common import QEMU, disk_size, is_cdrom
from ._guest_net import LOOPBACK, Address, nics
from ._guest_power import power_off

QGA_VERSION = "7.2.15"  # Debian 12's qemu-guest-agent
MEMORY_BLOCK = 128 * m.MiB  # a Linux x86_64 memory block
# qemu-ga's qga/main.c ga_freeze_allowlist: what a frozen agent still runs
_FREEZE_ALLOWED = {"ping", "info", "sync", "sync-delimited", "fsfreeze-status", "fsfreeze-thaw"}


def qga_error(guest: Guest, command: str, desc: str) -> PVEError:
    """A qemu-ga error as PVE reports it (qemu-server src/PVE/QMPClient.pm:175, the peer "VM <vmid>")."""
    return PVEError(500, f"VM {guest.vmid} qga command 'guest-{command}' failed - {desc}\n")


def agent_of(mock: Mock, guest: Guest) -> GuestAgent:
    """The guest's agent state; processes and the freeze last while the VM runs (a new boot clears them)."""
    agent = mock.cluster.agents.get(guest.vmid)
    identity = str(guest.config.get("smbios1", ""))  # a VM made anew under the same VMID has other files
    if agent is None or agent.identity != identity:
        agent = mock.cluster.agents[guest.vmid] = GuestAgent(boot=guest.started, identity=identity)
    elif agent.boot != guest.started:
        agent.processes.clear()
        agent.frozen = False
        agent.boot = guest.started
    return agent


def check_frozen(mock: Mock, guest: Guest, command: str) -> None:
    if agent_of(mock, guest).frozen and command not in _FREEZE_ALLOWED:
        # QEMU qapi/qmp-dispatch.c: a disabled command, the reason qga/main.c gives when frozen
        raise qga_error(guest, command, f"Command guest-{command} has been disabled: the agent is in frozen state")


def windows(guest: Guest) -> bool:
    return str(guest.config.get("ostype", "l26")).startswith("win")


# --- what the guest reports ------------------------------------------------------------------------------

def _info(mock: Mock, guest: Guest) -> dict[str, Any]:
    names = sorted({"ping", "info", "sync", "sync-delimited", "get-time", "set-time", "get-osinfo",
                    "get-host-name", "get-users", "get-timezone", "get-vcpus", "set-vcpus", "get-memory-blocks",
                    "set-memory-blocks", "get-memory-block-info", "get-fsinfo", "fsfreeze-status",
                    "fsfreeze-freeze", "fsfreeze-freeze-list", "fsfreeze-thaw", "fstrim",
                    "network-get-interfaces", "exec", "exec-status", "file-open", "file-close", "file-read",
                    "file-write", "file-seek", "file-flush", "set-user-password", "shutdown", "suspend-disk",
                    "suspend-ram", "suspend-hybrid"})
    return {"version": QGA_VERSION, "supported_commands": [
        {"name": f"guest-{n}", "enabled": True, "success-response": n not in ("shutdown", "suspend-disk",
                                                                            "suspend-ram", "suspend-hybrid")}
        for n in names]}


def _osinfo(mock: Mock, guest: Guest) -> dict[str, str]:
    if windows(guest):
        return {"id": "mswindows", "name": "Microsoft Windows", "pretty-name": "Windows Server 2022 Standard",
                "version": "Microsoft Windows Server 2022", "version-id": "2022", "variant": "server",
                "variant-id": "server", "kernel-release": "20348", "kernel-version": "10.0", "machine": "x86_64"}
    return {"id": "debian", "name": "Debian GNU/Linux", "pretty-name": "Debian GNU/Linux 12 (bookworm)",
            "version": "12 (bookworm)", "version-id": "12", "kernel-release": "6.1.0-28-amd64",
            "kernel-version": "#1 SMP PREEMPT_DYNAMIC Debian 6.1.119-1 (2024-11-22)", "machine": "x86_64"}


def host_name(guest: Guest) -> str:
    """The guest's host name: the VM's name, else cloud-init's default ``VM<vmid>``-like name."""
    return str(guest.config.get("name", f"VM{guest.vmid}"))


def _vcpu_count(guest: Guest) -> int:
    if "vcpus" in guest.config:
        return int(str(guest.config["vcpus"]))
    return int(m.guest_cpus(guest))


def _vcpus(mock: Mock, guest: Guest) -> list[dict[str, Any]]:
    return [{"logical-id": i, "online": True, "can-offline": i > 0} for i in range(_vcpu_count(guest))]


def _memory_blocks(mock: Mock, guest: Guest) -> list[dict[str, Any]]:
    count = max(1, m.guest_maxmem(guest) // MEMORY_BLOCK)
    return [{"phys-index": i, "online": True, "can-offline": i > 0} for i in range(count)]


def _disks(guest: Guest) -> list[tuple[str, int]]:
    keys = sorted((k for k in guest.config if QEMU.is_volume_key(k) and not k.startswith(("unused", "efidisk",
                                                                                            "tpmstate"))),
                  key=lambda k: (k.rstrip("0123456789"), int(k.lstrip("abcdefghijklmnopqrstuvwxyz") or 0)))
    return [(k, disk_size(str(guest.config[k]))) for k in keys if not is_cdrom(str(guest.config[k]))]


def mountpoints(guest: Guest) -> list[str]:
    """Where the guest mounts its disks: the first is the root file system."""
    root = "C:\\" if windows(guest) else "/"
    return [root if i == 0 else (f"{chr(ord('D') + i - 1)}:\\" if windows(guest) else f"/srv/{key}")
            for i, (key, _) in enumerate(_disks(guest))]


def _fsinfo(mock: Mock, guest: Guest) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for index, ((key, size), mount) in enumerate(zip(_disks(guest), mountpoints(guest), strict=True)):
        bus = key.rstrip("0123456789")
        unit = int(key[len(bus):])
        letter = chr(ord("a") + index)
        dev = f"/dev/vd{letter}1" if bus == "virtio" else f"/dev/sd{letter}1"
        disk = {"pci-controller": {"domain": 0, "bus": 0, "slot": 10 + unit if bus == "virtio" else 5,
                                   "function": 0},
                "bus-type": bus if bus in ("virtio", "scsi", "sata", "ide") else "unknown", "bus": 0,
                "target": 0 if bus == "virtio" else unit, "unit": 0, "serial": f"drive-{key}", "dev": dev}
        out.append({"name": f"vd{letter}1" if bus == "virtio" else f"sd{letter}1", "mountpoint": mount,
                    "type": "NTFS" if windows(guest) else "ext4", "total-bytes": size * 94 // 100,
                    "used-bytes": size // 5, "disk": [disk]})
    return out


def _nic_name(guest: Guest, index: int) -> str:
    """Names the guest's udev (predictable names, PCI slot 18 on) or Windows gives the NIC."""
    if windows(guest):
        return "Ethernet" if index == 0 else f"Ethernet {index + 1}"
    return f"ens{18 + index}" if index < 6 else f"enp1s{index - 5}"


def _qga_addresses(addresses: tuple[Address, ...]) -> list[dict[str, Any]]:
    return [{"ip-address": a.address, "ip-address-type": "ipv4" if a.family == "inet" else "ipv6",
             "prefix": a.prefix} for a in addresses]


def _statistics(seconds: int, scale: int) -> dict[str, int]:
    packets = seconds * scale
    return {"rx-bytes": packets * 600, "rx-packets": packets, "rx-errs": 0, "rx-dropped": 0,
            "tx-bytes": packets * 400, "tx-packets": packets, "tx-errs": 0, "tx-dropped": 0}


def _network(mock: Mock, guest: Guest) -> list[dict[str, Any]]:
    """qemu-ga's guest-network-get-interfaces: the loopback first, then the NICs (MACs in lower case)."""
    uptime = m.guest_uptime(mock, guest, mock.clock.now())
    loopback: dict[str, Any] = {"name": "Loopback Pseudo-Interface 1"} if windows(guest) else {
        "name": "lo", "hardware-address": "00:00:00:00:00:00"}
    loopback.update({"ip-addresses": _qga_addresses(LOOPBACK), "statistics": _statistics(uptime, 1)})
    out = [loopback]
    for nic in nics(guest):
        out.append({"name": _nic_name(guest, nic.index), "hardware-address": nic.mac.lower(),
                    "ip-addresses": _qga_addresses(nic.addresses), "statistics": _statistics(uptime, 10)})
    return out


def _fsfreeze_status(mock: Mock, guest: Guest) -> str:
    return "frozen" if agent_of(mock, guest).frozen else "thawed"


def _fsfreeze(frozen: bool) -> Callable[[Mock, Guest], int]:
    def command(mock: Mock, guest: Guest) -> int:
        agent = agent_of(mock, guest)
        changed = agent.frozen != frozen
        agent.frozen = frozen
        return len(_disks(guest)) if changed else 0  # the file systems frozen (thawed) now
    return command


def _fstrim(mock: Mock, guest: Guest) -> dict[str, Any]:
    return {"paths": [{"path": mount, "trimmed": 0, "minimum": 0} for mount in mountpoints(guest)]}


def _users(mock: Mock, guest: Guest) -> list[dict[str, Any]]:
    user = "Administrator" if windows(guest) else "root"
    return [{"user": user, "login-time": float(guest.started + 60)}] if guest.started else []


def _power(status: str) -> Callable[[Mock, Guest], None]:
    """guest-shutdown and guest-suspend-*: qemu-ga sends no answer (QMPClient.pm:48-53), the guest acts."""
    def command(mock: Mock, guest: Guest) -> None:
        if status == "stopped":
            power_off(guest)
        else:
            guest.status = status
    return command


# the commands without arguments: qemu-server src/PVE/API2/Qemu/Agent.pm:25-118
COMMANDS: dict[str, Callable[[Mock, Guest], Any]] = {
    "ping": lambda mock, guest: {},
    "info": _info,
    "get-osinfo": _osinfo,
    "get-host-name": lambda mock, guest: {"host-name": host_name(guest)},
    "get-users": _users,
    "get-time": lambda mock, guest: mock.clock.now() * 10**9,
    "get-timezone": lambda mock, guest: {"zone": "Coordinated Universal Time" if windows(guest) else "UTC",
                                         "offset": 0},
    "get-vcpus": _vcpus,
    "get-memory-blocks": _memory_blocks,
    "get-memory-block-info": lambda mock, guest: {"size": MEMORY_BLOCK},
    "get-fsinfo": _fsinfo,
    "network-get-interfaces": _network,
    "fsfreeze-status": _fsfreeze_status,
    "fsfreeze-freeze": _fsfreeze(True),
    "fsfreeze-thaw": _fsfreeze(False),
    "fstrim": _fstrim,
    "shutdown": _power("stopped"),
    "suspend-disk": _power("stopped"),  # hibernation: the VM powers off
    "suspend-ram": _power("paused"),
    "suspend-hybrid": _power("paused"),
}


# --- processes --------------------------------------------------------------------------------------------

def _run(guest: Guest, agent: GuestAgent, argv: list[str], stdin: bytes) -> tuple[int, bytes, bytes]:
    """A few programs behave as they would; any other fails like a shell's ``command not found``."""
    program = argv[0].rsplit("/", 1)[-1] if argv else "cat"  # input-data alone: qemu-ga feeds no program
    args = argv[1:]
    if program == "echo":
        return 0, (" ".join(args) + "\n").encode(), b""
    if program == "cat":
        if not args:
            return 0, stdin, b""
        missing = [a for a in args if a not in agent.files and a not in guest_files(guest)]
        if missing:
            return 1, b"", f"cat: {missing[0]}: No such file or directory\n".encode()
        return 0, b"".join(agent.files.get(a, guest_files(guest).get(a, b"")) for a in args), b""
    if program in ("true", "sleep"):
        return 0, b"", b""
    if program == "false":
        return 1, b"", b""
    if program == "hostname":
        return 0, (host_name(guest) + "\n").encode(), b""
    if program in ("sh", "bash") and args[:1] == ["-c"] and len(args) > 1:
        return _run(guest, agent, shlex.split(args[1]), stdin)
    return 127, b"", f"{argv[0]}: command not found\n".encode()


def start_process(mock: Mock, guest: Guest, argv: list[str], stdin: bytes) -> int:
    agent = agent_of(mock, guest)
    exitcode, out, err = _run(guest, agent, argv, stdin)
    seconds = 0
    if argv and argv[0].rsplit("/", 1)[-1] == "sleep" and argv[1:2] and argv[1].isdigit():
        seconds = int(argv[1])
    pid = agent.next_pid
    agent.next_pid += 1
    agent.processes[pid] = AgentProcess(exitcode, out, err, ends=mock.clock.now() + seconds)
    return pid


def process_status(mock: Mock, guest: Guest, pid: int) -> dict[str, Any]:
    """qemu-ga's guest-exec-status: out-/err-data only when there was output; an exited process is
    reported once, then forgotten (qga/commands.c guest_exec_info_remove)."""
    agent = agent_of(mock, guest)
    process = agent.processes.get(pid)
    if process is None:
        raise qga_error(guest, "exec-status", "Invalid parameter 'pid'")
    if mock.clock.now() < process.ends:
        return {"exited": False}
    del agent.processes[pid]
    answer: dict[str, Any] = {"exited": True, "exitcode": process.exitcode}
    if process.out:
        answer["out-data"] = process.out
    if process.err:
        answer["err-data"] = process.err
    return answer


# --- files ------------------------------------------------------------------------------------------------

def guest_files(guest: Guest) -> dict[str, bytes]:
    """Files every guest has from the start (a write through the agent replaces them)."""
    if windows(guest):
        return {}
    return {"/etc/hostname": (host_name(guest) + "\n").encode(),
            "/etc/os-release": b'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\n'
                               b'VERSION_ID="12"\nVERSION="12 (bookworm)"\nVERSION_CODENAME=bookworm\nID=debian\n'}


def read_file(mock: Mock, guest: Guest, path: str) -> bytes:
    agent = agent_of(mock, guest)
    content = agent.files.get(path)
    if content is None:
        content = guest_files(guest).get(path)
    if content is None:
        # qga/commands-posix.c qmp_guest_file_open: the fopen error
        raise qga_error(guest, "file-open", f"Failed to open file '{path}' (mode: 'r'): No such file or directory")
    return content
