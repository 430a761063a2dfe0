"""PVE's error texts and statuses where the mock used to say something else (each pinned to the PVE
file:line that raises it): guests, storage, users, ACL, roles and pools."""

from __future__ import annotations

from typing import Any

from tests.mock.conftest import PVE

CT = "/nodes/pve1/lxc"
TEMPLATE = "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"
VM = "/nodes/pve2/qemu/101"


async def answer(pve: PVE, method: str, path: str, data: dict[str, Any] | None = None) -> tuple[int, str, Any]:
    response = await pve.request(method, path, data)
    body = response.json()
    return response.status_code, body["message"], body.get("errors")


async def test_lxc_create_reads_a_bare_number_as_gib_on_the_storage(pve: PVE) -> None:
    """pve-container src/PVE/API2/LXC.pm:371-378: ``rootfs=8`` with ``storage=`` is 8 GiB on it."""
    await pve.data("POST", CT, {"vmid": "210", "ostemplate": TEMPLATE, "storage": "local-lvm", "rootfs": "8"})
    config = await pve.data("GET", f"{CT}/210/config")
    assert config["rootfs"] == "local-lvm:vm-210-disk-0,size=8G"
    # only a whole value that is a number: '2,mp=/data' names the volume '2' (pve-storage Storage.pm:409)
    assert await answer(pve, "POST", CT, {"vmid": "213", "ostemplate": TEMPLATE, "storage": "local-lvm",
                                          "rootfs": "8", "mp0": "2,mp=/data"}) == (
        500, "unable to parse volume ID '2'\n", None)
    # LXC.pm:387-388
    assert await answer(pve, "POST", CT, {"vmid": "211", "ostemplate": TEMPLATE, "mp0": "local-lvm:2,mp=/d"}) == (
        500, "mount points configured, but 'rootfs' not set - aborting\n", None)
    # pve-storage src/PVE/Storage.pm:627-628 (check_volume_access, LXC.pm:340)
    iso = "local:iso/debian-12.9.0-amd64-netinst.iso"
    assert await answer(pve, "POST", CT, {"vmid": "212", "ostemplate": iso}) == (
        500, f"unable to use volume {iso} - content type needs to be 'vztmpl'\n", None)


async def test_lxc_config_texts(pve: PVE) -> None:
    """pve-container src/PVE/LXC/Config.pm:1320-1321 (500, under the lock) and :1336."""
    for opt in ("rootfs", "memory", "ostype"):
        assert await answer(pve, "PUT", f"{CT}/200/config", {"delete": opt}) == (
            500, f"unable to delete required option '{opt}'\n", None)
    assert await answer(pve, "PUT", f"{CT}/200/config", {"mp1": "local:2,mp=/x"}) == (
        500, "storage 'local' does not allow content type 'rootdir' (Container)\n", None)


async def test_qemu_config_revert_and_delete_texts(pve: PVE) -> None:
    """qemu-server src/PVE/API2/Qemu.pm:2124-2125, :2139-2140: their keys and quoting, conflicts first."""
    assert await answer(pve, "PUT", f"{VM}/config", {"cores": "2", "revert": "cores"}) == (
        400, "Parameter verification failed.\n",
        {"delete": "you can't use '-cores' and -revert cores' at the same time"})
    assert await answer(pve, "PUT", f"{VM}/config", {"delete": "cores", "revert": "cores"}) == (
        400, "Parameter verification failed.\n",
        {"revert": "you can't use '-delete cores' and -revert cores' at the same time"})


async def test_qemu_move_disk_texts(pve: PVE) -> None:
    """qemu-server Qemu.pm:5201-5202 (neither target), :4873 (cdrom), :4866 (assert_if_modified)."""
    both = "both 'storage' and 'target-vmid' missing, either needs to be set"
    assert await answer(pve, "POST", f"{VM}/move_disk", {"disk": "scsi0"}) == (
        400, "Parameter verification failed.\n", {"target-vmid": both, "storage": both})
    await pve.data("PUT", f"{VM}/config", {"ide2": "none,media=cdrom"})
    assert await answer(pve, "POST", f"{VM}/move_disk", {"disk": "ide2", "storage": "local"}) == (
        500, "you can't move a cdrom\n", None)
    assert await answer(pve, "POST", f"{VM}/move_disk", {"disk": "scsi0", "storage": "local",
                                                         "digest": "0" * 40}) == (
        500, "detected modified configuration - file changed by other user? Try again.\n", None)


async def test_lxc_clone_and_move_texts(pve: PVE) -> None:
    """pve-container LXC.pm:2093 (linked clone), :2613 (snapshots and delete); no same-storage check."""
    await pve.data("POST", f"{CT}/200/status/stop")
    assert await answer(pve, "POST", f"{CT}/200/clone", {"newid": "220", "full": "0"}) == (
        500, "Linked clone feature for 'local-lvm:vm-200-disk-0' is not available\n", None)
    await pve.data("POST", f"{CT}/200/snapshot", {"snapname": "s1"})
    assert await answer(pve, "POST", f"{CT}/200/move_volume", {"volume": "rootfs", "storage": "local-lvm",
                                                               "delete": "1"}) == (
        500, "you can't move a volume with snapshots and delete the source\n", None)
    assert await pve.data("POST", f"{CT}/200/move_volume", {"volume": "rootfs", "storage": "local-lvm"})


async def test_storage_config_texts(pve: PVE) -> None:
    """pve-storage src/PVE/API2/Storage/Config.pm:372-373, :403, :459 (every check under its lock's prefix);
    the nodes are only checked for their names' format."""
    assert await answer(pve, "PUT", "/storage/nope", {"content": "iso"}) == (
        500, "update storage failed: storage 'nope' does not exist\n", None)
    assert await answer(pve, "DELETE", "/storage/nope") == (
        500, "delete storage failed: storage 'nope' does not exist\n", None)
    assert await answer(pve, "PUT", "/storage/local", {"content": "iso", "delete": "content"}) == (
        500, "update storage failed: cannot set and delete property 'content' at the same time!\n", None)
    await pve.data("PUT", "/storage/local", {"nodes": "pve1,pve9"})
    await pve.data("PUT", "/storage/local", {"delete": "content"})


async def test_storage_content_texts(pve: PVE) -> None:
    """pve-storage src/PVE/API2/Storage/Content.pm:286-291 (the eval's text as a parameter error), the
    plugins' alloc_image names, and LVM's free space check only (LVMPlugin.pm:713)."""
    assert await answer(pve, "GET", "/nodes/pve1/storage/local-lvm/content/local:iso/x.iso") == (
        400, "Parameter verification failed.\n", {"volume": "storage ID mismatch (local != local-lvm)\n"})
    assert await answer(pve, "POST", "/nodes/pve1/storage/local-lvm/content",
                        {"vmid": "100", "filename": "base-100-disk-7", "size": "1G"}) == (
        500, "illegal name 'base-100-disk-7' - should be 'vm-100-*'\n", None)  # LvmThinPlugin.pm:104
    # vdisk_alloc checks no content type (pve-storage src/PVE/Storage.pm:1150-1183): 'local' holds no images
    made = await pve.data("POST", "/nodes/pve1/storage/local/content",
                          {"vmid": "100", "filename": "mydisk.qcow2", "size": "1G"})  # Plugin.pm:784-796
    assert made == "local:100/mydisk.qcow2"
    assert await answer(pve, "POST", "/nodes/pve1/storage/local/content",
                        {"vmid": "100", "filename": "mydisk.qcow2", "size": "1G"}) == (
        500, "disk image '/var/lib/vz/images/100/mydisk.qcow2' already exists\n", None)  # Plugin.pm:1066
    assert await answer(pve, "POST", "/nodes/pve1/storage/local/content",
                        {"vmid": "100", "filename": "noext", "size": "1G"}) == (
        500, "unable to parse volume filename 'noext'\n", None)  # Plugin.pm:796
    # thin pools overcommit: no space check (the text is LVM's)
    assert await pve.data("POST", "/nodes/pve1/storage/local-lvm/content",
                          {"vmid": "100", "filename": "vm-100-disk-9", "size": "4096G"})


async def test_user_token_role_and_acl_texts(pve: PVE) -> None:
    """pve-access-control: AccessControl.pm:961 (only with a password), API2/User.pm:889 (no prefix) and
    :907-914, API2/Role.pm:145, :222, API2/ACL.pm:153-166 with AccessControl.pm:1281-1319."""
    await pve.data("POST", "/access/users", {"userid": "bob@nowhere"})
    assert await answer(pve, "POST", "/access/users", {"userid": "eve@nowhere", "password": "secret12"}) == (
        500, "create user failed: auth domain 'nowhere' does not exist\n", None)
    assert await answer(pve, "PUT", "/access/users/ghost@pve/token/t1", {"comment": "x"}) == (
        500, "no such user ('ghost@pve')\n", None)
    assert await answer(pve, "PUT", "/access/users/bob@nowhere/token/t1", {"comment": "x"}) == (
        500, "no such token 't1' for user 'bob@nowhere'\n", None)
    # RPCEnvironment.pm:663 (reauth_user_for_user_modification): check_user_exist, AccessControl.pm:678
    assert await answer(pve, "PUT", "/access/password", {"userid": "ghost@pve", "password": "secret123"}) == (
        500, "no such user ('ghost@pve')\n", None)
    await pve.data("POST", "/access/users/bob@nowhere/token/t1", {"comment": "x"})
    assert await answer(pve, "PUT", "/access/users/bob@nowhere/token/t1", {"delete": "expire"}) == (
        500, "updating token info failed: 400 Parameter verification failed.\ndelete: unknown option 'expire'\n", None)
    assert await answer(pve, "PUT", "/access/roles/Administrator", {"privs": "VM.Audit"}) == (
        500, "auto-generated role 'Administrator' cannot be modified\n", None)
    assert await answer(pve, "DELETE", "/access/roles/NoAccess") == (
        500, "auto-generated role 'NoAccess' cannot be deleted\n", None)
    assert await answer(pve, "PUT", "/access/acl", {"path": "/foo", "roles": "PVEAuditor", "users": "root@pam"}) == (
        400, "Parameter verification failed.\n", {"path": "invalid ACL path '/foo'"})
    required = "either 'users', 'groups' or 'tokens' is required."
    assert await answer(pve, "PUT", "/access/acl", {"path": "/vms/100", "roles": "PVEAuditor"}) == (
        400, "Parameter verification failed.\n", {"users": required, "groups": required, "tokens": required})


async def test_pool_texts(pve: PVE) -> None:
    """pve-manager PVE/API2/Pool.pm:341-370 (no existence checks for VMs and storages)."""
    await pve.data("POST", "/pools", {"poolid": "a"})
    await pve.data("POST", "/pools", {"poolid": "b"})
    await pve.data("PUT", "/pools/a", {"vms": "100,999", "storage": "nfs-nowhere"})
    assert await answer(pve, "PUT", "/pools/a", {"vms": "100"}) == (
        500, "update pools failed: VM 100 is already a pool member\n", None)
    assert await answer(pve, "PUT", "/pools/b", {"vms": "100"}) == (
        500, "update pools failed: VM 100 belongs already to pool 'a' and 'allow-move' is not set\n", None)
    assert await answer(pve, "PUT", "/pools/b", {"storage": "local", "delete": "1"}) == (
        500, "update pools failed: Storage 'local' is not a pool member\n", None)
    await pve.data("PUT", "/pools/b", {"storage": "local"})
    assert await answer(pve, "DELETE", "/pools/b") == (
        500, "delete pool failed: pool 'b' is not empty (contains storage 'local')\n", None)
