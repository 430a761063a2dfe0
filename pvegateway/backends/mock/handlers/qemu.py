"""QEMU guests (``/nodes/{node}/qemu``): create here; config, power, snapshots and disk operations shared."""

from __future__ import annotations

import re
import uuid
from typing import Any

from ...base import Call
from ..runtime import Handler, Mock
from ..state import Guest
from . import _guest_config as config
from ._guest_common import QEMU, check_pool, check_vmid_unused, flag, is_cdrom, join_pool, task
from ._guest_devices import Plan, plan_values
from ._guest_ops import ops_routes
from ._guest_power import power_on, power_routes
from ._snapshots import snapshot_routes

BASE = "/nodes/{node}/qemu"
_CREATE_ONLY = {"node", "vmid", "start", "pool", "storage", "archive", "force", "unique", "live-restore",
                "bwlimit", "import-working-storage"}


def _boot_order(values: dict[str, str]) -> str:
    """PVE's default boot devices: the first disk, the CD-ROMs, the first NIC."""
    disks = [k for k in values if QEMU.is_volume_key(k) and not k.startswith("unused")]
    ordered = sorted(disks, key=lambda k: (["ide", "sata", "scsi", "virtio"].index(re.sub(r"\d+", "", k))
                                           if re.sub(r"\d+", "", k) in ("ide", "sata", "scsi", "virtio") else 9,
                                           int(re.sub(r"\D", "", k) or 0)))
    hard = [k for k in ordered if not is_cdrom(values[k])][:1]
    cdroms = [k for k in ordered if is_cdrom(values[k])]
    nets = sorted((k for k in values if re.fullmatch(r"net\d+", k)), key=lambda k: int(k[3:]))[:1]
    return "order=" + ";".join(hard + cdroms + nets) if hard or cdroms or nets else " "


def create(mock: Mock, call: Call) -> str:
    params = call.params
    node = mock.node(call.path_params["node"]).name
    vmid = int(params["vmid"])
    check_vmid_unused(mock, vmid)
    check_pool(mock, params.get("pool"))
    values = {k: str(v) for k, v in params.items() if k not in _CREATE_ONLY and v is not None}
    plan = plan_values(Plan(mock, QEMU, node, vmid), values)
    conf = dict(plan.values)
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
    conf["meta"] = f"creation-qemu=9.2.0,ctime={mock.clock.now()}"
    plan.commit()
    guest = Guest(vmid=vmid, kind="qemu", node=node, config=conf, lock="create")
    mock.cluster.guests[vmid] = guest
    join_pool(mock, guest, params.get("pool"))
    start = flag(params, "start")

    def finish() -> None:
        guest.lock = None
        if start:
            power_on(mock, guest)

    return task(mock, call, guest, "qmcreate", str(vmid), finish=finish)


def _routes() -> dict[tuple[str, str], Handler]:
    routes: dict[tuple[str, str], Any] = {
        ("POST", BASE): create,
        ("GET", BASE + "/{vmid}/config"): config.get_config(QEMU),
        ("PUT", BASE + "/{vmid}/config"): config.put_config(QEMU),
        ("POST", BASE + "/{vmid}/config"): config.post_config(QEMU),
        ("GET", BASE + "/{vmid}/pending"): config.get_pending(QEMU),
    }
    routes.update(power_routes(QEMU, BASE))
    routes.update(snapshot_routes(QEMU, BASE))
    routes.update(ops_routes(QEMU, BASE))
    return routes


ROUTES: dict[tuple[str, str], Handler] = _routes()
