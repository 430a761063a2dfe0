"""Consoles: vncproxy/termproxy/vncshell open one on a port, vncwebsocket connects a browser to it,
spiceproxy/spiceshell answer a remote-viewer configuration.

Sources (the methods' definitions start at): qemu-server src/PVE/API2/Qemu.pm (vncproxy 2939,
termproxy 3154, vncwebsocket 3274, spiceproxy 3332), pve-container src/PVE/API2/LXC.pm (vncproxy 931,
termproxy 1091, vncwebsocket 1203, spiceproxy 1252), pve-manager PVE/API2/Nodes.pm (vncshell 1212,
termproxy 1367, vncwebsocket 1459, spiceshell 1508) and PVE/API2Tools.pm run_spiceterm (165-240),
pve-access-control src/PVE/AccessControl.pm.
"""

from __future__ import annotations

import secrets
from typing import Any

from ....errors import PVEError
from ...base import Call, Channel, Identity, Upgrade
from ..consoles import rfb, term
from ..consoles.cert import node_subject
from ..consoles.registry import Body, Console, Protocol
from ..perms import fail as perm_fail
from ..perms import normalize_path
from ..runtime import Handler, Mock, user_of
from ._certificates import root_ca_pem
from ._guest_common import LXC, QEMU, Kind, guest_of, split_prop
from ._params import flag

SPICE_TIMEOUT = 40.0  # spiceterm's --timeout (API2Tools.pm:179)
SPICE_PORTS = 61000  # pve-common Tools.pm spice_port_range: where a VM's SPICE port is taken from
_VNC_PASSWORD = range(ord("!"), ord("`") + 1)  # pve-common Ticket.pm:239-241 generate_vnc_password
_QEMU_SIZE = (640, 480)
_TERM_SIZE = (800, 600)


def _password() -> str:
    return "".join(chr(secrets.choice(_VNC_PASSWORD)) for _ in range(8))


def vncticket_passes(mock: Mock, authid: str, ticket: str, path: str, privs: list[str], port: int | None) -> bool:
    """pve-access-control API2/AccessControl.pm:375-399 (POST /access/vncticket, what termproxy asks):
    the ticket is genuine for the user, path and port, and the user has ``privs`` on the path."""
    normpath = normalize_path(path)
    if not normpath or not privs or not mock.signer.verify_vnc_ticket(ticket, authid, normpath, port, mock.clock.now()):
        return False
    userid, _, token = authid.partition("!")
    if userid not in mock.cluster.users:
        return False
    return mock.permissions.check(Identity(userid, token or None), normpath, privs, noerr=True)


def _open(mock: Mock, call: Call, protocol: Protocol, authpath: str, name: str, *, password: bool, cert: bool,
          task_type: str, ident: str, timeout_error: str | None = None, size: tuple[int, int] = _TERM_SIZE,
          vmid: int | None = None) -> dict[str, Any]:
    """A console listening on the node's next free port, its worker task running; PVE's answer."""
    node = mock.node(call.path_params["node"]).name
    user = user_of(call)
    port = mock.consoles.free_port()
    ticket = mock.signer.vnc_ticket(user, authpath, port, mock.clock.now())
    secret = _password() if password else None
    if secret is not None:
        ticket = f"{secret}:{ticket}"  # Qemu.pm:3025-3029: the password rides in front of the ticket
    privilege = "Sys.Console" if authpath.startswith("/nodes/") else "VM.Console"
    console = Console(node, port, protocol, authpath, privilege, user, ticket, secret, name, size,
                      timeout_error=timeout_error, vmid=vmid)
    mock.consoles.open(console, mock.tasks, task_type, ident)
    answer: dict[str, Any] = {"user": user, "ticket": ticket, "port": port, "upid": console.upid}
    if cert:
        answer["cert"] = root_ca_pem()
    if secret is not None:
        answer["password"] = secret
    return answer


def _serial(guest_config: dict[str, Any]) -> str | None:
    """The serial port a VM's display is (``vga: serial0``), as Qemu.pm:2997-3001 finds it."""
    head, opts = split_prop(str(guest_config.get("vga", "")))
    kind = opts.get("type", head or "")
    return kind if kind.startswith("serial") and kind[6:].isdigit() else None


def qemu_vncproxy(mock: Mock, call: Call) -> dict[str, Any]:
    guest = guest_of(mock, call, QEMU)
    serial = _serial(guest.config)
    websocket = flag(call.params.get("websocket"))
    password = flag(call.params.get("generate-password")) or serial is None or websocket
    # Qemu.pm:3114-3118: the worker gives up when nobody connects in time; vncterm (a serial display) ends quietly
    return _open(mock, call, "rfb", f"/vms/{guest.vmid}", guest.name or f"VM {guest.vmid}", password=password,
                 cert=True, task_type="vncproxy", ident=str(guest.vmid), size=_QEMU_SIZE, vmid=guest.vmid,
                 timeout_error=None if serial is not None else "connection timed out\n")


def _size(call: Call) -> tuple[int, int]:
    return int(call.params.get("width") or _TERM_SIZE[0]), int(call.params.get("height") or _TERM_SIZE[1])


def lxc_vncproxy(mock: Mock, call: Call) -> dict[str, Any]:
    guest = guest_of(mock, call, LXC)
    return _open(mock, call, "rfb", f"/vms/{guest.vmid}", _hostname(guest.config, guest.vmid),
                 password=flag(call.params.get("websocket")), cert=True, task_type="vncproxy",
                 ident=str(guest.vmid), size=_size(call))


def _hostname(config: dict[str, Any], vmid: int) -> str:
    return str(config.get("hostname") or f"CT{vmid}")


# termproxy bails out when nobody connects in time (pve-xtermjs termproxy/src/main.rs do_main)
_TERM_TIMEOUT = "failed waiting for client: timed out\n"


def guest_termproxy(kind: Kind) -> Handler:
    def handler(mock: Mock, call: Call) -> dict[str, Any]:
        guest = guest_of(mock, call, kind)
        name = guest.name or f"VM {guest.vmid}" if kind is QEMU else _hostname(guest.config, guest.vmid)
        # the worker is a 'vncproxy' task for both kinds (Qemu.pm:3261, LXC.pm:1190)
        return _open(mock, call, "term", f"/vms/{guest.vmid}", name, password=False, cert=False,
                     task_type="vncproxy", ident=str(guest.vmid), timeout_error=_TERM_TIMEOUT)
    return handler


def _root_only(call: Call) -> None:
    """Nodes.pm:1268-1271: a command other than login is for root@pam only."""
    command = call.params.get("cmd")
    if command is not None and command != "login" and user_of(call) != "root@pam":
        raise perm_fail("user != root@pam")


def node_vncshell(mock: Mock, call: Call) -> dict[str, Any]:
    _root_only(call)
    node = call.path_params["node"]
    # the worker's failure is only logged (Nodes.pm:1326-1345): its task ends OK either way
    return _open(mock, call, "rfb", f"/nodes/{node}", node, password=flag(call.params.get("websocket")),
                 cert=True, task_type="vncshell", ident="", size=_size(call))


def node_termproxy(mock: Mock, call: Call) -> dict[str, Any]:
    node = call.path_params["node"]
    return _open(mock, call, "term", f"/nodes/{node}", node, password=False, cert=False, task_type="vncshell",
                 ident="", timeout_error=_TERM_TIMEOUT)


def _session(mock: Mock) -> Body:
    async def body(console: Console, channel: Channel) -> str | None:
        if console.protocol == "term":
            def verify(authid: str, ticket: str) -> bool:
                return vncticket_passes(mock, authid, ticket, console.authpath, [console.privilege], console.port)
            return await term.serve(console, channel, verify)
        guest = mock.cluster.guests.get(console.vmid) if console.vmid is not None else None
        if guest is not None and guest.status != "running":
            return "Failed to run vncproxy."  # Qemu.pm:3121-3130: 'qm vncproxy' of a stopped VM fails
        return await rfb.serve(console, channel)
    return body


def vncwebsocket(kind: Kind | None) -> Handler:
    """Qemu.pm:3274-3330, LXC.pm:1203-1250, Nodes.pm:1459-1506: the ticket is checked for the caller,
    the path and the port; the upgrade then connects to whatever listens on the port."""
    def handler(mock: Mock, call: Call) -> Upgrade:
        node = call.path_params["node"]
        authpath = f"/vms/{call.params['vmid']}" if kind is not None else f"/nodes/{node}"
        port = int(call.params["port"])
        if not mock.signer.verify_vnc_ticket(str(call.params["vncticket"]), user_of(call), authpath, port,
                                             mock.clock.now()):
            # pve-common Ticket.pm:105-106
            raise PVEError(401, "permission denied - invalid PVEVNC ticket\n")
        if kind is QEMU:
            guest_of(mock, call, QEMU)  # Qemu.pm:3326 loads the config after the ticket check
        return Upgrade({"port": str(port)}, lambda: mock.consoles.connect(port, mock.tasks, _session(mock)))
    return handler


def _remote_viewer(mock: Mock, call: Call, vmid: int, port: int, title: str) -> dict[str, Any]:
    """AccessControl.pm:634-668 remote_viewer_config: what remote-viewer takes as it is."""
    node = call.path_params["node"]
    proxy = str(call.params.get("proxy") or node)  # default: the node's own name (`hostname -f`)
    if ":" in proxy:
        proxy = f"[{proxy}]"  # an IPv6 address
    return {
        "secure-attention": "Ctrl+Alt+Ins", "toggle-fullscreen": "Shift+F11", "release-cursor": "Ctrl+Alt+R",
        "type": "spice", "title": title, "host": mock.signer.spice_proxy_ticket(vmid, node, port, mock.clock.now()),
        "proxy": f"http://{proxy}:3128", "tls-port": port, "host-subject": node_subject(node),
        "ca": root_ca_pem().replace("\n", "\\n"), "password": secrets.token_hex(20), "delete-this-file": 1,
    }


def qemu_spiceproxy(mock: Mock, call: Call) -> dict[str, Any]:
    guest = guest_of(mock, call, QEMU)
    if guest.status != "running":
        raise PVEError(500, f"VM {guest.vmid} not running\n")  # QemuServer/Monitor.pm:80-81, before QMP
    head, opts = split_prop(str(guest.config.get("vga", "")))
    display = opts.get("type", head or "")
    if not display.startswith(("qxl", "virtio")):  # QemuServer.pm:3486: SPICE runs for qxl and virtio
        raise PVEError(500, "no spice port\n")  # QemuServer.pm:3841-3846
    title = f"VM {guest.vmid} - {guest.name}" if guest.name else f"VM {guest.vmid}"
    return _remote_viewer(mock, call, guest.vmid, SPICE_PORTS + guest.vmid % 1000, title)


def _spiceterm(mock: Mock, call: Call, vmid: int, title: str) -> dict[str, Any]:
    """API2Tools.pm run_spiceterm: a spiceterm waiting 40 s for its client; its failures are logged only."""
    node = call.path_params["node"]
    kind, ident = ("spiceproxy", str(vmid)) if vmid else ("spiceshell", "")
    mock.tasks.start(node, kind, ident, user_of(call), hold=SPICE_TIMEOUT)
    return _remote_viewer(mock, call, vmid, SPICE_PORTS, title)


def lxc_spiceproxy(mock: Mock, call: Call) -> dict[str, Any]:
    guest = guest_of(mock, call, LXC)
    if guest.status != "running":
        raise PVEError(500, f"CT {guest.vmid} not running\n")  # LXC.pm:1283
    return _spiceterm(mock, call, guest.vmid, f"CT {guest.vmid}")


def node_spiceshell(mock: Mock, call: Call) -> dict[str, Any]:
    _root_only(call)
    node = mock.node(call.path_params["node"]).name
    return _spiceterm(mock, call, 0, f"Shell on '{node}'")


ROUTES: dict[tuple[str, str], Handler] = {
    ("POST", "/nodes/{node}/qemu/{vmid}/vncproxy"): qemu_vncproxy,
    ("POST", "/nodes/{node}/qemu/{vmid}/termproxy"): guest_termproxy(QEMU),
    ("GET", "/nodes/{node}/qemu/{vmid}/vncwebsocket"): vncwebsocket(QEMU),
    ("POST", "/nodes/{node}/qemu/{vmid}/spiceproxy"): qemu_spiceproxy,
    ("POST", "/nodes/{node}/lxc/{vmid}/vncproxy"): lxc_vncproxy,
    ("POST", "/nodes/{node}/lxc/{vmid}/termproxy"): guest_termproxy(LXC),
    ("GET", "/nodes/{node}/lxc/{vmid}/vncwebsocket"): vncwebsocket(LXC),
    ("POST", "/nodes/{node}/lxc/{vmid}/spiceproxy"): lxc_spiceproxy,
    ("POST", "/nodes/{node}/vncshell"): node_vncshell,
    ("POST", "/nodes/{node}/termproxy"): node_termproxy,
    ("GET", "/nodes/{node}/vncwebsocket"): vncwebsocket(None),
    ("POST", "/nodes/{node}/spiceshell"): node_spiceshell,
}
