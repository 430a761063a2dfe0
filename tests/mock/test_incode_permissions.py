"""PVE's permission checks beyond the schema's ``permissions`` object, pinned to PVE's sources.

Each test logs in a user made through the API with just the rights the case needs and expects PVE's
answer: the status and the exact text of its ``raise_perm_exc`` (pve-common src/PVE/Exception.pm:53).
"""

from __future__ import annotations

from pytest import MonkeyPatch

from pvegateway.backends.mock.tickets import Signer
from pvegateway.secrets import same_secret
from tests.mock.conftest import PVE
from tests.mock.test_permissions import user_client

DENIED = {"data": None, "message": "Permission check failed\n"}


def denied(detail: str) -> dict[str, str | None]:
    return {"data": None, "message": f"Permission check failed ({detail})\n"}


async def grant(pve: PVE, path: str, role: str, userid: str) -> None:
    await pve.data("PUT", "/access/acl", {"path": path, "roles": role, "users": userid})


# --- the schema's check expressions (pve-access-control src/PVE/RPCEnvironment.pm exec_api2_perm_check) --


async def test_clone_without_a_pool_needs_vm_allocate_on_the_new_id(pve: PVE) -> None:
    # RPCEnvironment.pm:483-487: a 'perm' with require_param FAILS when the parameter is missing, so the
    # pool branch of clone's ['or', /vms/{newid}, /pool/{pool} require_param pool] cannot pass without pool
    await pve.data("POST", "/access/roles", {"roleid": "CloneOnly", "privs": "VM.Clone,VM.Audit"})
    cl = await user_client(pve, "cl@pve", "clpassword1")
    await grant(pve, "/vms/101", "CloneOnly", "cl@pve")
    response = await cl.post("/nodes/pve2/qemu/101/clone", {"newid": "777"})
    assert response.status_code == 403
    assert response.json() == DENIED  # RPCEnvironment.pm:478: the 'or' raises without a detail
    assert 777 not in pve.backend.mock.cluster.guests


async def test_clone_into_a_pool_the_user_may_allocate_in_passes(pve: PVE) -> None:
    await pve.data("POST", "/access/roles", {"roleid": "CloneOnly", "privs": "VM.Clone,VM.Audit"})
    await pve.data("POST", "/pools", {"poolid": "lab"})
    cl = await user_client(pve, "cl@pve", "clpassword1")
    await grant(pve, "/vms/101", "CloneOnly", "cl@pve")
    await grant(pve, "/pool/lab", "PVEVMAdmin", "cl@pve")
    upid = await cl.data("POST", "/nodes/pve2/qemu/101/clone", {"newid": "777", "pool": "lab"})
    assert ":qmclone:101:cl@pve:" in upid


async def test_group_limited_user_admin_cannot_create_a_user_without_groups(pve: PVE) -> None:
    # RPCEnvironment.pm:507: with groups_param and no 'groups', a caller without User.Modify on
    # /access/groups is refused "/access/groups, User.Modify" (the user would land outside their groups)
    await pve.data("POST", "/access/groups", {"groupid": "g1"})
    ua = await user_client(pve, "ua@pve", "uapassword1")
    await grant(pve, "/access/realm/pve", "PVEUserAdmin", "ua@pve")
    await grant(pve, "/access/groups/g1", "PVEUserAdmin", "ua@pve")
    response = await ua.post("/access/users", {"userid": "loose@pve", "password": "loosepassword1"})
    assert response.status_code == 403
    assert response.json() == denied("/access/groups, User.Modify")
    assert "loose@pve" not in pve.backend.mock.cluster.users
    await ua.data("POST", "/access/users", {"userid": "member@pve", "groups": "g1"})
    assert pve.backend.mock.cluster.users["member@pve"].groups == ["g1"]


# --- PUT /access/password (pve-access-control src/PVE/API2/AccessControl.pm change_password) ------------


async def user_admin(pve: PVE) -> PVE:
    ua = await user_client(pve, "ua@pve", "uapassword1")
    await grant(pve, "/access", "PVEUserAdmin", "ua@pve")
    return ua


async def test_user_admin_cannot_take_over_root(pve: PVE) -> None:
    ua = await user_admin(pve)
    response = await ua.put("/access/password", {"userid": "root@pam", "password": "pwned-root-1",
                                                 "confirmation-password": "uapassword1"})
    # RPCEnvironment.pm:665 reauth_user_for_user_modification: root@pam is modified by root@pam only
    assert response.status_code == 403
    assert response.json() == DENIED
    refused = await pve.client.post("/api2/json/access/ticket", data={"username": "root@pam",
                                                                      "password": "pwned-root-1"})
    assert refused.status_code == 401
    assert pve.backend.mock.cluster.users["root@pam"].password == "pvegateway"


async def test_user_admin_must_confirm_with_their_own_password(pve: PVE) -> None:
    ua = await user_admin(pve)
    await pve.data("POST", "/access/users", {"userid": "eve@pve", "password": "eve-password"})
    missing = await ua.put("/access/password", {"userid": "eve@pve", "password": "new-password-1"})
    # RPCEnvironment.pm:669: every caller but root@pam gives their current password
    assert missing.status_code == 400
    assert missing.json()["errors"] == {"confirmation-password": "password is required to modify user"}
    wrong = await ua.put("/access/password", {"userid": "eve@pve", "password": "new-password-1",
                                              "confirmation-password": "not-mine-1"})
    assert (wrong.status_code, wrong.json()["message"]) == (500, "invalid credentials\n")  # Auth/PVE.pm:83
    assert pve.backend.mock.cluster.users["eve@pve"].password == "eve-password"
    await ua.data("PUT", "/access/password", {"userid": "eve@pve", "password": "new-password-1",
                                              "confirmation-password": "uapassword1"})
    assert pve.backend.mock.cluster.users["eve@pve"].password == "new-password-1"


async def test_user_admin_cannot_change_a_pam_users_password(pve: PVE) -> None:
    ua = await user_admin(pve)
    await pve.data("POST", "/access/users", {"userid": "bob@pam", "password": "bob-password"})
    response = await ua.put("/access/password", {"userid": "bob@pam", "password": "new-password-1",
                                                 "confirmation-password": "uapassword1"})
    assert response.status_code == 403  # AccessControl.pm:463: system users only by root or themselves
    assert response.json() == DENIED
    assert pve.backend.mock.cluster.users["bob@pam"].password == "bob-password"


# --- PUT /pools (pve-manager PVE/API2/Pool.pm update_pool) ---------------------------------------------


async def pool_admin(pve: PVE) -> PVE:
    await pve.data("POST", "/pools", {"poolid": "p1"})
    pa = await user_client(pve, "pa@pve", "papassword1")
    await grant(pve, "/pool/p1", "PVEAdmin", "pa@pve")
    return pa


async def test_pool_admin_cannot_pull_a_foreign_vm_into_the_pool(pve: PVE) -> None:
    pa = await pool_admin(pve)
    # Pool.pm:333 check_perm_modify on /vms/100 (RPCEnvironment.pm:442: Permissions.Modify or VM.Allocate),
    # raised inside lock_user_config (AccessControl.pm:91), so PVE answers the lock's plain 500
    expected = "update pools failed: 403 Permission check failed (/vms/100, Permissions.Modify|VM.Allocate)\n"
    for path, data in (("/pools/p1", {"vms": "100"}), ("/pools", {"poolid": "p1", "vms": "100"})):
        response = await pa.put(path, data)
        assert (response.status_code, response.json()["message"]) == (500, expected)
    assert pve.backend.mock.cluster.pools["p1"].vmids == []
    stop = await pa.post("/nodes/pve1/qemu/100/status/stop", {})
    assert stop.status_code == 403  # no rights were inherited through the pool
    assert pve.backend.mock.cluster.guests[100].status == "running"


async def test_pool_admin_cannot_pull_a_foreign_storage_into_the_pool(pve: PVE) -> None:
    pa = await pool_admin(pve)
    response = await pa.put("/pools/p1", {"storage": "local"})
    expected = ("update pools failed: 403 Permission check failed "
                "(/storage/local, Permissions.Modify|Datastore.Allocate)\n")
    assert (response.status_code, response.json()["message"]) == (500, expected)  # Pool.pm:361
    assert pve.backend.mock.cluster.pools["p1"].storages == []


async def test_pool_admin_adds_a_vm_they_may_allocate(pve: PVE) -> None:
    pa = await pool_admin(pve)
    await grant(pve, "/vms/101", "PVEVMAdmin", "pa@pve")
    await pa.data("PUT", "/pools/p1", {"vms": "101"})
    assert pve.backend.mock.cluster.pools["p1"].vmids == [101]


# --- guests and volumes of a user without rights (operations whose schema says ``user: all``) ------------

ISO = "local:iso/debian-12.9.0-amd64-netinst.iso"
ISO_PATH = "/nodes/pve1/storage/local/content/" + ISO.replace("/", "%2F")
TEMPLATE = "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"


async def test_user_without_rights_creates_no_guest(pve: PVE) -> None:
    z = await user_client(pve, "z@pve", "zpassword1")
    tasks_before = sum(len(log) for log in pve.backend.mock.cluster.tasks.values())
    vm = await z.post("/nodes/pve1/qemu", {"vmid": "555", "memory": "4096"})
    assert vm.status_code == 403  # qemu-server Qemu.pm:1309-1321: VM.Allocate on /vms/555 or the pool
    assert vm.json() == DENIED
    ct = await z.post("/nodes/pve1/lxc", {"vmid": "556", "rootfs": "local-lvm:8", "ostemplate": TEMPLATE})
    assert ct.status_code == 403  # pve-container LXC.pm:295-318
    assert ct.json() == DENIED
    assert not {555, 556} & set(pve.backend.mock.cluster.guests)
    assert sum(len(log) for log in pve.backend.mock.cluster.tasks.values()) == tasks_before


async def test_guest_lists_show_only_guests_with_vm_audit(pve: PVE) -> None:
    z = await user_client(pve, "z@pve", "zpassword1")
    assert await z.data("GET", "/nodes/pve1/qemu") == []  # Qemu.pm:1113
    assert await z.data("GET", "/nodes/pve1/lxc") == []  # pve-container LXC.pm vmlist
    await grant(pve, "/vms/200", "PVEAuditor", "z@pve")
    assert [g["vmid"] for g in await z.data("GET", "/nodes/pve1/lxc")] == [200]
    assert await z.data("GET", "/nodes/pve1/qemu") == []


async def test_vm_allocate_alone_does_not_allocate_storage_or_bridges(pve: PVE) -> None:
    vm = await user_client(pve, "vm@pve", "vmpassword1")
    await grant(pve, "/vms/555", "PVEVMAdmin", "vm@pve")
    disk = await vm.post("/nodes/pve1/qemu", {"vmid": "555", "scsi0": "local-lvm:4"})
    assert disk.json() == denied("/storage/local-lvm, Datastore.AllocateSpace")  # Qemu.pm:189
    nic = await vm.post("/nodes/pve1/qemu", {"vmid": "555", "net0": "virtio,bridge=vmbr0"})
    # pve-guest-common GuestHelpers.pm:419 check_vnet_access: SDN.Use on the bridge
    assert nic.json() == denied("/sdn/zones/localnetwork/vmbr0, SDN.Use")
    assert 555 not in pve.backend.mock.cluster.guests
    await grant(pve, "/storage/local-lvm", "PVEDatastoreUser", "vm@pve")
    upid = await vm.data("POST", "/nodes/pve1/qemu", {"vmid": "555", "scsi0": "local-lvm:4", "memory": "1024"})
    assert ":qmcreate:555:vm@pve:" in upid


async def test_container_template_needs_read_access_to_its_storage(pve: PVE) -> None:
    ct = await user_client(pve, "ct@pve", "ctpassword1")
    await grant(pve, "/vms/556", "PVEVMAdmin", "ct@pve")
    await grant(pve, "/storage/local-lvm", "PVEDatastoreUser", "ct@pve")
    response = await ct.post("/nodes/pve1/lxc", {"vmid": "556", "rootfs": "local-lvm:8", "ostemplate": TEMPLATE})
    # LXC.pm:340 check_volume_access, pve-storage Storage.pm:632-638: templates need AllocateSpace or Audit
    assert response.json() == denied("/storage/local, Datastore.AllocateSpace|Datastore.Audit")
    assert 556 not in pve.backend.mock.cluster.guests


async def test_user_without_rights_cannot_read_change_or_delete_a_volume(pve: PVE) -> None:
    z = await user_client(pve, "z@pve", "zpassword1")
    read = denied("/storage/local, Datastore.AllocateSpace|Datastore.Audit")  # Storage.pm:634
    assert (await z.get(ISO_PATH)).json() == read  # Content.pm:369
    assert (await z.put(ISO_PATH, {"notes": "owned"})).json() == read  # Content.pm:440
    deleted = await z.delete(ISO_PATH)
    assert deleted.status_code == 403
    assert deleted.json() == denied("/storage/local, Datastore.Allocate")  # Content.pm:506
    volume = pve.backend.mock.cluster.storages["local"].bucket("pve1")[ISO]
    assert volume.notes == ""
    await grant(pve, "/storage/local", "PVEDatastoreUser", "z@pve")
    assert (await z.data("GET", ISO_PATH))["size"] == volume.size
    assert (await z.delete(ISO_PATH)).json() == denied("/storage/local, Datastore.Allocate")


async def test_a_missing_pool_is_a_permission_error_even_for_root(pve: PVE) -> None:
    response = await pve.post("/nodes/pve1/qemu", {"vmid": "555", "pool": "nope"})
    assert response.status_code == 403  # RPCEnvironment.pm:385 check_pool_exist
    assert response.json() == denied("pool 'nope' does not exist")
    assert 555 not in pve.backend.mock.cluster.guests


# --- node figures (pve-manager PVE/API2Tools.pm:38 extract_node_stats with $exclude_stats) --------------

_FIGURES = {"cpu", "maxcpu", "mem", "maxmem", "disk", "maxdisk", "uptime"}


async def test_node_figures_need_sys_audit_on_the_node(pve: PVE) -> None:
    z = await user_client(pve, "z@pve", "zpassword1")
    await grant(pve, "/nodes/pve1", "PVEAuditor", "z@pve")
    # Nodes.pm:2986-2987: every node is listed, its figures only with Sys.Audit on /nodes/<node>
    nodes = {n["node"]: n for n in await z.data("GET", "/nodes")}
    assert set(nodes) == {"pve1", "pve2", "pve3"}
    assert set(nodes["pve1"]) >= _FIGURES
    assert not _FIGURES & set(nodes["pve2"]) and nodes["pve2"]["status"] == "online"
    # Cluster.pm:620-638: the same for the nodes of /cluster/resources
    resources = {r["id"]: r for r in await z.data("GET", "/cluster/resources", {"type": "node"})}
    assert set(resources) == {"node/pve1", "node/pve2", "node/pve3"}
    assert set(resources["node/pve1"]) >= _FIGURES and not _FIGURES & set(resources["node/pve3"])
    assert all(set(n) >= _FIGURES for n in await pve.data("GET", "/nodes"))


# --- login (pve-access-control API2/AccessControl.pm create_ticket) ------------------------------------


async def test_login_does_the_same_work_for_unknown_and_known_users(pve: PVE, monkeypatch: MonkeyPatch) -> None:
    # An unknown user must not be told apart by a faster refusal (user enumeration). pveproxy pads every
    # 401 to 3 s (pve-http-server AnyEvent.pm:1035-1039); without that delay the mock does the same work
    # on every path: one ticket check and one constant-time password comparison.
    await pve.data("POST", "/access/users", {"userid": "known@pve", "password": "known-password"})
    await pve.data("POST", "/access/users", {"userid": "off@pve", "password": "off-password", "enable": "0"})
    work: list[str] = []
    verify = Signer.verify_ticket

    def counted_compare(expected: str, given: str) -> bool:
        work.append("compare")
        return same_secret(expected, given)

    def counted_verify(signer: Signer, ticket: str, now: int) -> str | None:
        work.append("ticket")
        return verify(signer, ticket, now)

    monkeypatch.setattr("pvegateway.backends.mock.handlers.access.same_secret", counted_compare)
    monkeypatch.setattr(Signer, "verify_ticket", counted_verify)
    done: dict[str, list[str]] = {}
    for username in ("known@pve", "nobody@pve", "off@pve", "nopass@nowhere"):
        work.clear()
        response = await pve.client.post("/api2/json/access/ticket",
                                         data={"username": username, "password": "wrong-password"})
        assert response.status_code == 401
        done[username] = list(work)
    assert done["known@pve"] == ["ticket", "compare"]
    assert all(steps == done["known@pve"] for steps in done.values()), done


# --- config updates: the schema asks for any VM.Config.* privilege, the handler for the right one -------


async def test_a_vm_user_changes_the_cdrom_but_not_the_memory_or_disks(pve: PVE) -> None:
    user = await user_client(pve, "vmuser@pve", "vmuserpassword1")
    await grant(pve, "/vms/100", "PVEVMUser", "vmuser@pve")  # VM.Config.CDROM, Cloudinit, PowerMgmt...
    memory = await user.put("/nodes/pve1/qemu/100/config", {"memory": "8192"})
    # Qemu.pm:2198 $check_vm_modify_config_perm, :1010-1011 memory needs VM.Config.Memory
    assert memory.json() == denied("/vms/100, VM.Config.Memory")
    disk = await user.put("/nodes/pve1/qemu/100/config", {"scsi1": "local-lvm:4"})
    assert disk.json() == denied("/storage/local-lvm, Datastore.AllocateSpace")  # Qemu.pm:189 via :2200
    guest = pve.backend.mock.cluster.guests[100]
    assert guest.config["memory"] == "2048" and "scsi1" not in guest.config and not guest.pending
    await user.data("PUT", "/nodes/pve1/qemu/100/config", {"ide2": "none,media=cdrom"})  # Qemu.pm:2283
    # a container's schema wants one of Disk/CPU/Memory/Network/Options; the handler the right one
    await pve.data("POST", "/access/roles", {"roleid": "NetOnly", "privs": "VM.Config.Network,VM.Audit"})
    await grant(pve, "/vms/200", "NetOnly", "vmuser@pve")
    ct = await user.put("/nodes/pve1/lxc/200/config", {"memory": "1024"})
    assert ct.json() == denied("/vms/200, VM.Config.Memory")  # pve-container LXC.pm:1680-1681
    assert pve.backend.mock.cluster.guests[200].config["memory"] == "512"
