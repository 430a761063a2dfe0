"""What answers each operation of the mock: ``python -m pvegateway.backends.mock.coverage``.

Prints docs/COVERAGE.md (``make coverage-doc`` writes it): every operation of the newest schema and the
kind of answer it gets, from MockBackend's realistic handlers and its configuration store's layout.
"""

from __future__ import annotations

import json
import sys
from collections import Counter, defaultdict
from collections.abc import Mapping
from pathlib import Path

from ...apidoc.operation import Operation
from ...apidoc.schema import load_schema
from .backend import MockBackend, MockOptions
from .store.effects import EFFECTS
from .store.layout import POSITIONAL_KINDS, SECTION_KINDS, SINGLETON_KINDS, Kind
from .store.views import VIEWS

VERSION = "9.2"
# the operations four real client tools call (Ansible's community.proxmox, the bpg and Telmate Terraform
# providers, prometheus-pve-exporter), with where each was found: docs/client-usage.json
CLIENT_USAGE = Path(__file__).resolve().parents[3] / "docs" / "client-usage.json"
# kinds that behave like PVE on the cluster's state (what "realistic" counts); `task` answers a real
# task but models no effect, `shaped` keeps nothing
REALISTIC = frozenset({"handler", "section", "singleton", "positional", "view", "worker", "index"})
# why a client-called operation is still answered without its effect
_CEPH = "the mock runs no Ceph cluster: nothing to report or change"
_ACME = "ACME talks to a certificate authority on the internet; the mock contacts none"
_JOIN = "joining or creating a corosync cluster is not modelled (the mock is one cluster from the start)"
_APT = "node package repositories are not modelled"
_HOST = "the node's hardware inventory is not modelled"
NOT_REALISTIC: Mapping[str, str] = {
    "DELETE /nodes/{node}/ceph/osd/{osdid}": _CEPH, "GET /cluster/ceph/status": _CEPH,
    "GET /nodes/{node}/ceph/osd": _CEPH, "GET /nodes/{node}/ceph/pool/{name}/status": _CEPH,
    "GET /nodes/{node}/ceph/status": _CEPH, "POST /nodes/{node}/ceph/osd": _CEPH,
    "POST /nodes/{node}/ceph/osd/{osdid}/out": _CEPH, "POST /nodes/{node}/ceph/osd/{osdid}/scrub": _CEPH,
    "POST /nodes/{node}/ceph/restart": _CEPH, "POST /nodes/{node}/ceph/start": _CEPH,
    "POST /nodes/{node}/ceph/stop": _CEPH,
    "DELETE /nodes/{node}/certificates/acme/certificate": _ACME, "GET /cluster/acme/directories": _ACME,
    "GET /cluster/acme/tos": _ACME, "POST /nodes/{node}/certificates/acme/certificate": _ACME,
    "DELETE /nodes/{node}/certificates/custom": "a node's custom certificate is not kept (certificates/info "
                                                 "shows the generated one)",
    "POST /nodes/{node}/certificates/custom": "a node's custom certificate is not kept (certificates/info "
                                               "shows the generated one)",
    "GET /cluster/config/join": _JOIN, "GET /cluster/config/qdevice": _JOIN, "POST /cluster/config": _JOIN,
    "POST /cluster/config/join": _JOIN,
    "GET /cluster/sdn/fabrics/node": "SDN fabrics' per-node state (routing daemons) is not modelled",
    "GET /cluster/sdn/ipams/{ipam}/status": "IPAM allocations (the guests' addresses per subnet) are not modelled",
    "GET /nodes/{node}/apt/repositories": _APT, "POST /nodes/{node}/apt/repositories": _APT,
    "PUT /nodes/{node}/apt/repositories": _APT,
    "GET /nodes/{node}/disks/list": _HOST, "GET /nodes/{node}/hardware/pci": _HOST,
    "POST /nodes/{node}/aplinfo": "the appliance index (templates to download) is not modelled",
    "POST /nodes/{node}/storage/{storage}/oci-registry-pull": "the mock pulls from no OCI registry",
    "POST /nodes/{node}/status": "rebooting or shutting down a node is not modelled",
    "POST /nodes/{node}/wakeonlan": "waking a node is not modelled",
}

KINDS = {
    "handler": "a realistic handler working on the cluster's objects (guests, storages, users, pools, HA, tasks)",
    "section": "a section-config collection of the store: create, list, read, update, remove, PVE's texts",
    "singleton": "a singleton of the store: what a write sets, a read shows",
    "positional": "a positional list of the store (firewall rules): insert, move, renumber",
    "view": "computed from the store and the cluster together (not-backed-up guests, subscription, time...), "
            "or kept as PVE keeps it (the firewall's aliases, IP sets, groups)",
    "worker": "a real task of the mock whose worker's effect is modelled (vzdump's backups, a download's file, "
              "SDN's apply, a realm sync...)",
    "task": "a real task of the mock, of the type PVE's handler forks (its effect, if any, is not modelled)",
    "index": "a directory index: the children the tree names",
    "shaped": "shaped data only: plausible values like `returns`, nothing kept",
}


def kind_of(backend: MockBackend, op: Operation) -> str:
    if (op.method, op.path) in backend.routes:
        return "handler"
    if op.key in VIEWS:
        return "view"
    plan = backend.store.plan(op)
    kind = plan.kind if plan is not None else Kind.SHAPED
    name = ("section" if kind in SECTION_KINDS else "singleton" if kind in SINGLETON_KINDS
            else "positional" if kind in POSITIONAL_KINDS else kind.name.lower())
    if name == "task" and op.key in EFFECTS:
        return "worker"
    return f"{name} + task" if plan is not None and plan.worker is not None and name != "task" else name


def _area(path: str) -> str:
    parts = path.strip("/").split("/")
    if parts[0] == "nodes" and len(parts) > 2:
        return f"/nodes/{{node}}/{parts[2]}"
    return "/" + parts[0] if parts[0] else "/"


def render(version: str = VERSION) -> str:
    schema = load_schema(version)
    operations = sorted(schema.operations, key=lambda op: (op.path, op.method))
    backend = MockBackend(operations, MockOptions(secret=b"coverage"))
    kinds = {op.key: kind_of(backend, op) for op in operations}
    base = {key: kind.split(" + ")[0] for key, kind in kinds.items()}
    totals = Counter(base.values())
    areas: dict[str, Counter[str]] = defaultdict(Counter)
    for op in operations:
        areas[_area(op.path)][base[op.key]] += 1
    columns = list(KINDS)
    tasks = sum(1 for kind in kinds.values() if kind.endswith("task"))
    lines = [
        "# Mock coverage",
        "",
        f"Generated by `python -m pvegateway.backends.mock.coverage` (`make coverage-doc`) from PVE {version}.",
        "Do not edit by hand.",
        "",
        "What answers each operation of the mock:",
        "",
        *[f"- `{name}`: {text}" for name, text in KINDS.items()],
        "",
        "A kind ending in `+ task` also answers a real task's UPID. Every operation under a guest, node,",
        "storage, user or HA resource first asks the cluster whether that object exists (PVE's texts when not).",
        "",
        f"**{len(operations)} operations**: " + ", ".join(f"{totals[k]} {k}" for k in columns)
        + f"; {tasks} of those without a realistic handler answer a real task.",
        "",
        "## By area",
        "",
        "| Area | Operations | " + " | ".join(columns) + " |",
        "|---|---:|" + "---:|" * len(columns),
    ]
    for area in sorted(areas):
        counts = areas[area]
        lines.append(f"| `{area}` | {sum(counts.values())} | " + " | ".join(str(counts[k]) for k in columns) + " |")
    lines += _client_section(kinds)
    lines += ["", "## Operations", "", "| Method | Path | Answered by |", "|---|---|---|"]
    for op in operations:
        lines.append(f"| {op.method} | `{op.path}` | {kinds[op.key]} |")
    return "\n".join(lines) + "\n"


def client_usage() -> list[dict[str, object]]:
    usage: list[dict[str, object]] = json.loads(CLIENT_USAGE.read_text())["operations"]
    return usage


def _client_section(kinds: Mapping[str, str]) -> list[str]:
    if not CLIENT_USAGE.exists():  # an installed package: the list lives in the repository
        return []
    used = client_usage()
    base = {str(o["op"]): kinds.get(str(o["op"]), "absent").split(" + ")[0] for o in used}
    realistic = sum(1 for kind in base.values() if kind in REALISTIC)
    lines = ["", "## What client tools call", "",
             f"Of the {len(used)} operations Ansible's community.proxmox, the bpg and Telmate Terraform providers and "
             f"prometheus-pve-exporter call (`docs/client-usage.json`), **{realistic}** have a realistic answer "
             f"({', '.join(sorted(REALISTIC))}). The others, and why:", "",
             "| Operation | Answered by | Why |", "|---|---|---|"]
    for op in sorted(o for o, kind in base.items() if kind not in REALISTIC):
        lines.append(f"| `{op}` | {kinds.get(op, 'absent')} | {NOT_REALISTIC.get(op, '')} |")
    return lines


def main() -> int:
    sys.stdout.write(render())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
