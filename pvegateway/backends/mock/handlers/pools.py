"""Mock handlers: resource pools (pve-manager API2/Pool.pm), including 9.x's ``PUT/DELETE /pools``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ....errors import PVEError
from ...base import Call
from ..runtime import Handler, Mock
from ..state import Pool
from ._params import flag, id_list
from ._users import absent, existing, fail


def _pool(mock: Mock, poolid: str, what: str = "") -> Pool:
    return existing(mock.cluster.pools, poolid, "pool", what)


def _members(mock: Mock, pool: Pool, kind: str | None) -> list[dict[str, Any]]:
    members: list[dict[str, Any]] = []
    for vmid in pool.vmids:
        guest = mock.cluster.guests.get(vmid)
        if guest is None or (kind and kind != guest.kind):
            continue
        maxmem = int(str(guest.config.get("memory", 512))) * 1024**2
        members.append({"id": f"{guest.kind}/{vmid}", "vmid": vmid, "node": guest.node, "type": guest.kind,
                        "name": guest.name, "status": guest.status, "template": int(guest.template),
                        "maxmem": maxmem, "maxcpu": int(str(guest.config.get("cores", 1))), "uptime": 0})
    if kind in (None, "storage"):
        for storeid in pool.storages:
            storage = mock.cluster.storages.get(storeid)
            if storage is None:
                continue
            for node in sorted(mock.cluster.nodes):
                if not storage.available_on(node):
                    continue
                members.append({"id": f"storage/{node}/{storeid}", "storage": storeid, "node": node,
                                "type": "storage", "status": "available", "shared": int(storage.shared),
                                "content": ",".join(storage.content), "plugintype": storage.type,
                                "maxdisk": storage.total, "disk": storage.used(node)})
    return members


def _visible(mock: Mock, call: Call, poolid: str) -> bool:
    return call.identity is None or "Pool.Audit" in mock.permissions.privileges(call.identity, f"/pool/{poolid}")


def list_pools(mock: Mock, call: Call) -> list[dict[str, Any]]:
    wanted = call.params.get("poolid")
    kind = call.params.get("type")
    answer = []
    for poolid in sorted(mock.cluster.pools):
        if (wanted is not None and poolid != wanted) or not _visible(mock, call, poolid):
            continue
        pool = mock.cluster.pools[poolid]
        entry: dict[str, Any] = {"poolid": poolid}
        if pool.comment:
            entry["comment"] = pool.comment
        if wanted is not None:
            entry["members"] = _members(mock, pool, str(kind) if kind else None)
        answer.append(entry)
    if wanted is not None and not answer:
        _pool(mock, str(wanted))
    return answer


def create_pool(mock: Mock, call: Call) -> None:
    poolid = str(call.params["poolid"])
    absent(mock.cluster.pools, poolid, "pool", "create pool failed")
    mock.cluster.pools[poolid] = Pool(poolid, str(call.params.get("comment") or ""))


def read_pool(mock: Mock, call: Call) -> dict[str, Any]:
    pool = _pool(mock, str(call.params["poolid"]))
    kind = call.params.get("type")
    answer: dict[str, Any] = {"members": _members(mock, pool, str(kind) if kind else None)}
    if pool.comment:
        answer["comment"] = pool.comment
    return answer


def _locked_check(what: str, check: Callable[..., bool], *args: Any) -> None:
    """A permission check inside PVE's ``lock_user_config``: its 403 comes back as the lock's plain
    error, "<what>: 403 Permission check failed (...)" with status 500 (AccessControl.pm:90-91,
    the exception stringified by pve-common Exception.pm:98)."""
    try:
        check(*args)
    except PVEError as err:
        raise fail(f"{what}: {err.status} {err.message.rstrip()}") from None


def update_pool(mock: Mock, call: Call) -> None:
    """pve-manager API2/Pool.pm update_pool: the caller also needs the right to change permissions on
    every VM and storage added or removed (check_perm_modify, Pool.pm:333 and :361), and Pool.Allocate
    on the pool a VM is moved out of (:346)."""
    params = call.params
    perms = mock.permissions
    what = "update pools failed"
    pool = _pool(mock, str(params["poolid"]), what)
    delete = flag(params.get("delete"))
    allow_move = flag(params.get("allow-move"))
    vmids = list(dict.fromkeys(int(v) for v in id_list(params.get("vms"))))
    storages = list(dict.fromkeys(id_list(params.get("storage"))))
    moves: dict[int, Pool] = {}
    for vmid in vmids:
        _locked_check(what, perms.check_perm_modify, call.identity, f"/vms/{vmid}")
        if delete:
            if vmid not in pool.vmids:
                raise fail(f"{what}: VM {vmid} is not a pool member")
            continue
        # pve-manager PVE/API2/Pool.pm:341-345: no check that the VM exists
        if vmid in pool.vmids:
            raise fail(f"{what}: VM {vmid} is already a pool member")
        current = next((p for p in mock.cluster.pools.values() if vmid in p.vmids), None)
        if current is not None:
            if not allow_move:
                raise fail(f"{what}: VM {vmid} belongs already to pool '{current.poolid}' "
                           f"and 'allow-move' is not set")
            _locked_check(what, perms.check, call.identity, f"/pool/{current.poolid}", ["Pool.Allocate"])
            moves[vmid] = current
    for storeid in storages:
        _locked_check(what, perms.check_perm_modify, call.identity, f"/storage/{storeid}")
        if delete and storeid not in pool.storages:  # Pool.pm:363-370; no check that the storage exists
            raise fail(f"{what}: Storage '{storeid}' is not a pool member")
        if not delete and storeid in pool.storages:
            raise fail(f"{what}: Storage '{storeid}' is already a pool member")
    if params.get("comment") is not None:
        pool.comment = str(params["comment"])
    for vmid in vmids:
        guest = mock.cluster.guests.get(vmid)
        if delete:
            pool.vmids.remove(vmid)
            if guest is not None:
                guest.pool = None
            continue
        if vmid in moves:
            moves[vmid].vmids.remove(vmid)
        if vmid not in pool.vmids:
            pool.vmids.append(vmid)
        if guest is not None:
            guest.pool = pool.poolid
    for storeid in storages:
        if delete:
            pool.storages.remove(storeid)
        elif storeid not in pool.storages:
            pool.storages.append(storeid)


def delete_pool(mock: Mock, call: Call) -> None:
    poolid = str(call.params["poolid"])
    what = "delete pool failed"
    pool = _pool(mock, poolid, what)
    # pve-manager PVE/API2/Pool.pm:514-525: destroyed guests and removed storages do not count
    for vmid in sorted(v for v in pool.vmids if v in mock.cluster.guests):
        raise fail(f"{what}: pool '{poolid}' is not empty (contains VM {vmid})")
    for storeid in sorted(s for s in pool.storages if s in mock.cluster.storages):
        raise fail(f"{what}: pool '{poolid}' is not empty (contains storage '{storeid}')")
    del mock.cluster.pools[poolid]
    for key in [k for k in mock.cluster.acl if k[0] == f"/pool/{poolid}"]:
        del mock.cluster.acl[key]


ROUTES: dict[tuple[str, str], Handler] = {
    ("GET", "/pools"): list_pools,
    ("POST", "/pools"): create_pool,
    ("PUT", "/pools"): update_pool,
    ("DELETE", "/pools"): delete_pool,
    ("GET", "/pools/{poolid}"): read_pool,
    ("PUT", "/pools/{poolid}"): update_pool,
    ("DELETE", "/pools/{poolid}"): delete_pool,
}
