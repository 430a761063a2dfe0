"""QEMU guests (``/nodes/{node}/qemu``): create here; config, power, snapshots and disk operations shared."""

from __future__ import annotations

import re
import uuid

from ....errors import PVEError
from ...base import Call
from ..runtime import Handler, Mock
from ..state import Guest
from . import _cloudinit as cloudinit
from . import _guest_config as config
from ._agent import agent_routes
from ._features import feature
from ._guest_common import QEMU, creation_target, is_cdrom
from ._guest_devices import Plan, plan_values
from ._guest_perms import qemu_create
from ._guest_power import add_created
from ._guest_routes import guest_routes
from ._qemu_monitor import sendkey, unlink
from ._qemu_status import QEMU_VERSION
from ._restore import restore

BASE = "/nodes/{node}/qemu"
_CREATE_ONLY = {"node", "vmid", "start", "pool", "storage", "archive", "force", "unique", "live-restore",
                "bwlimit", "import-working-storage"}

_BUS_RANK = {"ide": 0, "sata": 1, "scsi": 2, "virtio": 3}  # any other disk key (efidisk0, tpmstate0) ranks 9
_DIGITS = re.compile(r"\d+")
_NON_DIGIT = re.compile(r"\D")
_NET = re.compile(r"net\d+")
_VOLUME_KEY = QEMU.volume_keys.fullmatch  # QEMU.is_volume_key without the method call per key


def _disk_rank(key: str) -> tuple[int, int]:
    return _BUS_RANK.get(_DIGITS.sub("", key), 9), int(_NON_DIGIT.sub("", key) or 0)


def _boot_order(values: dict[str, str]) -> str:
    """PVE's default boot devices: the first disk, the CD-ROMs, the first NIC."""
    disks = [k for k in values if _VOLUME_KEY(k) and not k.startswith("unused")]
    ordered = sorted(disks, key=_disk_rank)
    hard = [k for k in ordered if not is_cdrom(values[k])][:1]
    cdroms = [k for k in ordered if is_cdrom(values[k])]
    nets = sorted((k for k in values if _NET.fullmatch(k)), key=lambda k: int(k[3:]))[:1]
    return "order=" + ";".join(hard + cdroms + nets) if hard or cdroms or nets else " "


def create(mock: Mock, call: Call) -> str:
    params = call.params
    mock.node(call.path_params["node"])
    qemu_create(mock, call, int(params["vmid"]))  # before the VMID is known to be free, as in PVE
    values = {k: str(v) for k, v in params.items() if k not in _CREATE_ONLY and v is not None}
    if params.get("archive"):
        return _restore_archive(mock, call, values)
    node, vmid = creation_target(mock, call, QEMU)
    plan = plan_values(Plan(mock, QEMU, node, vmid), values)
    conf = dict(plan.values)
    # deterministic identifiers: the same seed and clock give the same VM
    seed = uuid.uuid5(uuid.NAMESPACE_URL, f"pvegateway:{mock.cluster.name}:{vmid}:{mock.cluster.next_pid}")
    if "smbios1" not in conf:
        conf["smbios1"] = f"uuid={seed}"
    vmgenid = conf.get("vmgenid", "1")
    if vmgenid == "1":
        conf["vmgenid"] = str(uuid.uuid5(seed, "vmgenid"))
    elif vmgenid == "0":
        conf.pop("vmgenid")
    conf.setdefault("boot", _boot_order(conf))
    if conf["boot"] == " ":
        del conf["boot"]
    conf["meta"] = f"creation-qemu={QEMU_VERSION},ctime={mock.clock.now()}"
    return add_created(mock, call, Guest(vmid=vmid, kind="qemu", node=node, config=conf), "qmcreate", plan)


def _restore_archive(mock: Mock, call: Call, values: dict[str, str]) -> str:
    """Qemu.pm:1324-1346: no drive beside an archive, no pipe over the API."""
    for key in sorted(values):
        if _VOLUME_KEY(key) and not key.startswith("unused"):
            raise PVEError.params({key: "option conflicts with option 'archive'"})
    if call.params["archive"] == "-":
        raise PVEError(500, "pipe requires cli environment\n")
    return restore(mock, call, QEMU, values)


ROUTES: dict[tuple[str, str], Handler] = guest_routes(QEMU, BASE, {
    ("POST", BASE): create,
    ("POST", BASE + "/{vmid}/config"): config.post_config(QEMU),
    ("GET", BASE + "/{vmid}/feature"): feature(QEMU),
    ("PUT", BASE + "/{vmid}/sendkey"): sendkey,
    ("PUT", BASE + "/{vmid}/unlink"): unlink,
    ("GET", BASE + "/{vmid}/cloudinit"): cloudinit.pending,
    ("PUT", BASE + "/{vmid}/cloudinit"): cloudinit.regenerate,
    ("GET", BASE + "/{vmid}/cloudinit/dump"): cloudinit.dump,
    **agent_routes(BASE),
})
