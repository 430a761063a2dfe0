"""Talk to a running mock with proxmoxer, as to any PVE node.

    pvegateway serve --mode mock --state-dir ./state           # prints its certificate's path
    python examples/proxmoxer_script.py --port 8006 --verify ./state/pvegateway.pem

Lists the cluster, creates a VM with the next free id, starts it, snapshots it, then stops and deletes
it (``--keep`` leaves it running).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from proxmoxer import ProxmoxAPI
from proxmoxer.tools import Tasks


def wait(prox: Any, upid: str) -> str:
    status = Tasks.blocking_status(prox, upid, timeout=60, polling_interval=0.1)
    if status is None:
        raise SystemExit(f"task {upid} did not finish")
    return str(status["exitstatus"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8006)
    parser.add_argument("--user", default="root@pam")
    parser.add_argument("--password", default="pvegateway")
    parser.add_argument("--verify", default="no", help="the server's certificate (PEM), or 'no'")
    parser.add_argument("--node", default="pve1")
    parser.add_argument("--keep", action="store_true", help="leave the new VM running")
    args = parser.parse_args(argv)

    verify: str | bool = False if args.verify == "no" else args.verify
    prox = ProxmoxAPI(args.host, port=args.port, user=args.user, password=args.password, verify_ssl=verify)
    print(f"PVE {prox.version.get()['version']}")
    for node in prox.nodes.get():
        print(f"node {node['node']}: {node['status']}")
    for vm in sorted(prox.cluster.resources.get(type="vm"), key=lambda r: int(r["vmid"])):
        print(f"guest {vm['vmid']} ({vm['type']}) on {vm['node']}: {vm.get('name', '')} {vm['status']}")

    vmid = int(prox.cluster.nextid.get())
    vm = prox.nodes(args.node).qemu(vmid)
    created = prox.nodes(args.node).qemu.post(vmid=vmid, name="from-script", memory=1024, cores=1,
                                              net0="virtio,bridge=vmbr0", scsi0="local-lvm:8")
    print(f"create {vmid}: {wait(prox, created)}")
    print(f"start {vmid}: {wait(prox, vm.status.start.post())}")
    print(f"status {vmid}: {vm.status.current.get()['status']}")
    print(f"snapshot {vmid}: {wait(prox, vm.snapshot.post(snapname='first'))}")
    if not args.keep:
        print(f"stop {vmid}: {wait(prox, vm.status.stop.post())}")
        print(f"delete {vmid}: {wait(prox, vm.delete())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
