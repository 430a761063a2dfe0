"""Backups as clients use them, over real TLS with proxmoxer: a vzdump task that, once polled to
``stopped``, has left its archives on the storage (with notes, protection, the guest's configuration),
which ``extractconfig`` reads and a QEMU ``archive=`` / LXC ``restore=1`` create brings back; backup jobs'
selections (``included_volumes``, ``not-backed-up``). Texts cite pve-manager, qemu-server, pve-container.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from proxmoxer import ProxmoxAPI
from proxmoxer.core import ResourceException
from proxmoxer.tools import Tasks

from pvegateway import statedir
from pvegateway.app import Gateway
from pvegateway.backends.mock.backend import MockBackend, MockOptions
from tests.live import live_server
from tests.mock.conftest import schema


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    return statedir.certificate(tmp_path_factory.mktemp("tls"))


@contextlib.contextmanager
def _serving(tls: tuple[Path, Path, str]) -> Iterator[tuple[Any, MockBackend]]:
    """The mock with tasks running for two status reads, so every wait below really polls."""
    loaded = schema("9.2")
    backend = MockBackend(loaded.operations, MockOptions(secret=b"test-secret", tasks="polls:2"))
    cert, key, _ = tls
    with live_server(Gateway(loaded, backend, send_reason=True), certfile=str(cert), keyfile=str(key)) as url:
        prox = ProxmoxAPI("127.0.0.1", port=int(url.rsplit(":", 1)[1]), user="root@pam", password="pvegateway",
                          verify_ssl=str(cert))
        try:
            yield prox, backend
        finally:
            prox._store["session"].close()


@pytest.fixture
def pve(tls: tuple[Path, Path, str]) -> Iterator[Any]:
    with _serving(tls) as (prox, _backend):
        yield prox


def wait(prox: Any, upid: str) -> dict[str, Any]:
    status: dict[str, Any] = Tasks.blocking_status(prox, upid, timeout=10, polling_interval=0.01)
    assert status is not None and status["status"] == "stopped", upid
    return status


def _backups(prox: Any, node: str = "pve1", storage: str = "local") -> list[dict[str, Any]]:
    content: list[dict[str, Any]] = prox.nodes(node).storage(storage).content.get(content="backup")
    return content


def test_a_backup_is_on_the_storage_once_its_task_stopped_with_notes_protection_and_config(pve: Any) -> None:
    upid = pve.nodes("pve1").vzdump.post(vmid="100", storage="local", mode="snapshot", compress="zstd",
                                         protected=1, **{"notes-template": "{{guestname}} on {{node}}\\n{{vmid}}"})
    assert upid.split(":")[5:7] == ["vzdump", "100"]  # pve-manager PVE/API2/VZDump.pm:175-176
    assert _backups(pve) == []  # the task runs: nothing written yet
    assert wait(pve, upid)["exitstatus"] == "OK"
    [backup] = _backups(pve)
    assert backup["volid"].startswith("local:backup/vzdump-qemu-100-") and backup["volid"].endswith(".vma.zst")
    # pve-storage Storage/Plugin.pm:1716-1742: the listing's fields for a backup
    assert (backup["content"], backup["subtype"], backup["vmid"], backup["format"]) == ("backup", "qemu", 100,
                                                                                        "vma.zst")
    assert backup["protected"] == 1 and backup["size"] > 0 and backup["ctime"] > 0
    assert backup["notes"] == "web01 on pve1\n100"  # pve-manager PVE/VZDump.pm:120-145 generate_notes
    log = [line["t"] for line in pve.nodes("pve1").tasks(upid).log.get()]
    assert "INFO: marking backup as protected" in log and "INFO: adding notes to backup" in log  # :1227, :1240
    config = pve.nodes("pve1").vzdump.extractconfig.get(volume=backup["volid"])
    assert "name: web01\n" in config and "scsi0: local-lvm:vm-100-disk-0,size=32G\n" in config


def test_a_vm_backup_restores_as_a_new_vm_and_over_the_old_one_with_force(pve: Any) -> None:
    wait(pve, pve.nodes("pve1").vzdump.post(vmid="100", storage="local"))
    [backup] = _backups(pve)
    assert backup["format"] == "vma"  # no compression by default (PVE/VZDump.pm:844-845)
    node = pve.nodes("pve1")
    upid = node.qemu.post(vmid=300, archive=backup["volid"], name="restored")
    assert upid.split(":")[5:7] == ["qmrestore", "300"]  # qemu-server API2/Qemu.pm:1580
    assert wait(pve, upid)["exitstatus"] == "OK"
    config = node.qemu(300).config.get()
    assert (config["name"], config["memory"], config["cores"]) == ("restored", "2048", 2)
    assert config["scsi0"].startswith("local-lvm:vm-300-disk-0,") and "size=32G" in config["scsi0"]
    disks = [v["volid"] for v in node.storage("local-lvm").content.get(vmid=300)]
    assert disks == ["local-lvm:vm-300-disk-0"]
    # pve-storage Storage.pm:626-627, :784: a backup that exists
    with pytest.raises(ResourceException, match="content type needs to be 'backup'"):
        node.qemu.post(vmid=301, archive="local:iso/debian-12.9.0-amd64-netinst.iso")
    gone = "local:backup/vzdump-qemu-1-2020_01_01-00_00_00.vma"
    with pytest.raises(ResourceException, match=re.escape(f"can't find file '{gone}'")):
        node.qemu.post(vmid=301, archive=gone)
    # a drive beside the archive is refused (Qemu.pm:1325-1328)
    with pytest.raises(ResourceException, match="option conflicts with option 'archive'"):
        node.qemu.post(vmid=301, archive=backup["volid"], scsi1="local-lvm:1")
    # over an existing VM: refused without force (Qemu.pm:1378-1379, pve-cluster check_vmid_unused) ...
    with pytest.raises(ResourceException, match="unable to restore VM 300 - VM 300 already exists on node 'pve1'"):
        node.qemu.post(vmid=300, archive=backup["volid"])
    # a vzdump archive is no PBS snapshot (Qemu.pm:1420-1422): the task fails and, as PVE's worker says,
    # leaves the config it began with (Qemu.pm:1581-1594)
    live = wait(pve, node.qemu.post(vmid=302, archive=backup["volid"], **{"live-restore": 1}))
    assert live["exitstatus"] == "live-restore is only compatible with backup images from a Proxmox Backup Server"
    assert "VM 302 state is NOT cleaned up." in node.tasks(live["upid"]).log.get()[0]["t"]
    assert "scsi0" not in node.qemu(302).config.get()
    # ... and with force the VM is the backup's again
    assert wait(pve, node.qemu.post(vmid=300, archive=backup["volid"], force=1))["exitstatus"] == "OK"
    assert node.qemu(300).config.get()["name"] == "web01"
    assert [v["volid"] for v in node.storage("local-lvm").content.get(vmid=300)] == ["local-lvm:vm-300-disk-0"]


def test_a_running_vm_is_not_restored_over(pve: Any) -> None:
    wait(pve, pve.nodes("pve1").vzdump.post(vmid="100", storage="local"))
    [backup] = _backups(pve)
    status = wait(pve, pve.nodes("pve1").qemu.post(vmid=100, archive=backup["volid"], force=1))
    assert status["exitstatus"] == "unable to restore VM 100 - vm is running"  # Qemu.pm:1391, in the worker
    assert pve.nodes("pve1").qemu(100).status.current.get()["status"] == "running"


def test_a_container_backup_restores_with_restore_1_onto_a_storage_for_containers(pve: Any) -> None:
    wait(pve, pve.nodes("pve1").vzdump.post(vmid="200", storage="local", compress="gzip"))
    [backup] = _backups(pve)
    assert backup["volid"].endswith(".tar.gz") and backup["subtype"] == "lxc"
    node = pve.nodes("pve1")
    # pve-container API2/LXC.pm:322, :357-359: the default storage 'local' holds no container volumes
    with pytest.raises(ResourceException, match="storage 'local' does not support container directories"):
        node.lxc.post(vmid=301, ostemplate=backup["volid"], restore=1)
    upid = node.lxc.post(vmid=301, ostemplate=backup["volid"], restore=1, storage="local-lvm")
    assert upid.split(":")[5:7] == ["vzrestore", "301"]  # LXC.pm:634
    assert wait(pve, upid)["exitstatus"] == "OK"
    config = node.lxc(301).config.get()
    assert (config["hostname"], config["ostype"]) == ("proxy01", "debian")
    assert config["rootfs"].startswith("local-lvm:vm-301-disk-0,") and "size=8G" in config["rootfs"]
    # over the running original (pve-container API2/LXC.pm:282): refused before any task
    with pytest.raises(ResourceException, match="can't overwrite running container"):
        node.lxc.post(vmid=200, ostemplate=backup["volid"], restore=1, force=1, storage="local-lvm")
    # a QEMU archive is no container backup (pve-storage Storage.pm:1878): the worker fails and the new
    # container's config goes (LXC.pm:611-620)
    wait(pve, node.vzdump.post(vmid="100", storage="local"))
    vm_backup = next(b["volid"] for b in _backups(pve) if b["subtype"] == "qemu")
    wrong = wait(pve, node.lxc.post(vmid=302, ostemplate=vm_backup, restore=1, storage="local-lvm"))
    assert wrong["exitstatus"] == "unable to restore CT 302 - ERROR: archive contains no configuration file"
    assert 302 not in [g["vmid"] for g in pve.cluster.resources.get(type="vm")]


def test_vzdump_selects_by_node_pool_and_exclusion_and_refuses_as_pve(pve: Any) -> None:
    node = pve.nodes("pve1")
    # pve-manager PVE/API2/VZDump.pm:115-116: guests of other nodes only: 'OK' and no task
    assert node.vzdump.post(vmid="101", storage="local") == "OK"
    # VZDump.pm:1527-1555 verify_vzdump_parameters
    with pytest.raises(ResourceException, match="option conflicts with option 'vmid'"):
        node.vzdump.post(vmid="100", all=1)
    with pytest.raises(ResourceException, match="variable 'nope' at char 4"):  # :113: PVE counts from its end
        node.vzdump.post(vmid="100", storage="local", **{"notes-template": "{{nope}}"})
    with pytest.raises(ResourceException, match="'vmid': 'property is missing'"):
        node.vzdump.post(storage="local")
    # 'exclude' means all (VZDump.pm:1551): pve1's guests but 200; an external VM is skipped
    upid = node.vzdump.post(exclude="200", storage="local")
    assert upid.split(":")[5:7] == ["vzdump", "100"]
    log = [line["t"] for line in node.tasks(upid).log.get()]
    wait(pve, upid)
    assert "INFO: skip external VMs: 101" in log  # VZDump.pm:1398-1401
    assert [b["vmid"] for b in _backups(pve)] == [100]
    # a VMID no guest has fails the job visibly (VZDump.pm:921, :1341, :1491)
    status = wait(pve, node.vzdump.post(vmid="100,999", storage="local"))
    assert status["exitstatus"] == "job errors"
    log = [line["t"] for line in node.tasks(status["upid"]).log.get()]
    assert "ERROR: Backup of VM 999 failed - unable to find VM '999'" in log
    # stop mode and a started HA resource (VZDump.pm:939-945)
    pve.cluster.ha.resources.post(sid="vm:100", state="started")
    status = wait(pve, node.vzdump.post(vmid="100", storage="local", mode="stop"))
    assert status["exitstatus"] == "job errors"
    assert ("ERROR: Backup of VM 100 failed - Cannot execute a backup with stop mode on a HA managed and enabled "
            "Service. Use snapshot mode or disable the Service.") in [t["t"] for t in
                                                                      node.tasks(status["upid"]).log.get()]
    # a storage that does not exist (VZDump.pm:688-695)
    status = wait(pve, node.vzdump.post(vmid="100", storage="nowhere"))
    assert status["exitstatus"] == ("could not activate storage 'nowhere': storage 'nowhere' does not exist "
                                    "could not get storage information for 'nowhere': storage 'nowhere' does not exist")
    # a pool's guests
    pve.pools.post(poolid="web")
    pve.pools("web").put(vms="100")
    upid = node.vzdump.post(pool="web", storage="local")
    assert upid.split(":")[5:7] == ["vzdump", "100"] and wait(pve, upid)["exitstatus"] == "OK"


def test_a_backup_jobs_included_volumes_are_the_guests_disks(pve: Any) -> None:
    pve.nodes("pve2").qemu(101).config.post(scsi1="local-lvm:1,backup=0", efidisk0="local-lvm:1",
                                            ide2="local:iso/debian-12.9.0-amd64-netinst.iso,media=cdrom")
    pve.cluster.backup.post(schedule="daily", vmid="101,200,999", storage="local")
    [job] = pve.cluster.backup.get()
    tree = pve.cluster.backup(job["id"]).included_volumes.get()
    by_id = {c["id"]: c for c in tree["children"]}
    assert by_id[999] == {"id": 999, "type": "unknown", "leaf": 1}  # Backup.pm:787-796
    disks = {d["id"]: (d["name"], d["included"], d["reason"]) for d in by_id[101]["children"]}
    # qemu-server QemuConfig.pm:181-212: CD-ROMs are no volumes, backup=0 leaves one out, EFI needs OVMF
    assert disks == {"101:scsi0": ("local-lvm:vm-101-disk-0", 1, "backup=yes"),
                     "101:scsi1": ("local-lvm:vm-101-disk-1", 0, "backup=no"),
                     "101:efidisk0": ("local-lvm:vm-101-disk-2", 0, "efidisk but no OVMF BIOS")}
    assert by_id[200]["name"] == "proxy01"
    assert [(d["id"], d["reason"]) for d in by_id[200]["children"]] == [("200:rootfs", "rootfs")]  # LXC/Config.pm:72
    with pytest.raises(ResourceException, match="No such job 'nope'"):
        pve.cluster.backup("nope").included_volumes.get()
    # pve-manager PVE/API2/Cluster/BackupInfo.pm:86-122: the guests no job includes
    assert [g["vmid"] for g in pve.cluster("backup-info")("not-backed-up").get()] == [100]


def test_a_download_leaves_the_file_query_url_metadata_describes(pve: Any) -> None:
    url = "https://cdimage.debian.org/debian-cd/current/amd64/iso-cd/debian-13.1.0-amd64-netinst.iso?x=1"
    node = pve.nodes("pve1")
    meta = node("query-url-metadata").get(url=url)
    # pve-manager PVE/API2/Nodes.pm query_url_metadata: the name from the URL's path, size and type
    assert (meta["filename"], meta["mimetype"]) == ("debian-13.1.0-amd64-netinst.iso", "application/x-iso9660-image")
    upid = node.storage("local")("download-url").post(url=url, content="iso", filename=meta["filename"],
                                                      checksum="ab" * 32, **{"checksum-algorithm": "sha256"})
    assert upid.split(":")[5] == "download"  # pve-storage Storage/Status.pm:911
    assert wait(pve, upid)["exitstatus"] == "OK"
    [iso] = [v for v in node.storage("local").content.get(content="iso") if "debian-13" in v["volid"]]
    assert (iso["volid"], iso["size"], iso["format"]) == ("local:iso/debian-13.1.0-amd64-netinst.iso",
                                                           meta["size"], "iso")
    dest = "/var/lib/vz/template/iso/debian-13.1.0-amd64-netinst.iso"
    log = [line["t"] for line in node.tasks(upid).log.get()]
    assert log == [f"downloading {url} to {dest}", "calculating checksum...OK, checksum verified",  # Tools.pm
                   f"download of '{url}' to '{dest}' finished", "TASK OK"]
    # pve-common Tools.pm download_file_from_url: no overwrite without a checksum
    again = wait(pve, node.storage("local")("download-url").post(url=url, content="iso", filename=meta["filename"]))
    assert again["exitstatus"] == f"refusing to override existing file '{dest}'"
    # Status.pm:893-897: only ISOs are decompressed (the worker fails)
    packed = wait(pve, node.storage("local")("download-url").post(
        url="https://example.com/t.tar.zst", content="vztmpl", filename="t.tar.zst", compression="zstd"))
    assert packed["exitstatus"] == "decompression not supported for vztmpl"
    # Status.pm:851-853, :860-864: refused before any task
    with pytest.raises(ResourceException, match="wrong file extension"):
        node.storage("local")("download-url").post(url=url, content="iso", filename="debian.txt")
    with pytest.raises(ResourceException, match="storage 'local' is not configured for content-type 'import'"):
        node.storage("local")("download-url").post(url=url, content="import", filename="a.qcow2")


def test_a_backup_job_is_checked_and_kept_as_pve_writes_jobs_cfg(pve: Any) -> None:
    jobs = pve.cluster.backup
    # pve-manager PVE/API2/Backup.pm:108-120 schedule_param_check, :324-327 check_pool_exist
    with pytest.raises(ResourceException, match="neither 'starttime' nor 'schedule' were set"):
        jobs.post(vmid="100")
    with pytest.raises(ResourceException, match="'starttime' and 'schedule' cannot both be set"):
        jobs.post(vmid="100", schedule="daily", starttime="02:00")
    with pytest.raises(ResourceException, match="pool 'nope' does not exist"):
        jobs.post(pool="nope", schedule="daily")
    with pytest.raises(ResourceException, match="option conflicts with option 'vmid'"):  # VZDump.pm:1530
        jobs.post(vmid="100", exclude="200", schedule="daily")
    assert jobs.get() == []
    # the old start time and days become a schedule (Backup.pm:92-104); exclude means all (VZDump.pm:1551)
    jobs.post(id="nightly", starttime="02:30", dow="sat,sun", exclude="101", storage="local")
    job = jobs("nightly").get()
    assert (job["schedule"], job["all"], job["enabled"], job["type"]) == ("sat,sun 02:30", 1, 1, "vzdump")
    assert "starttime" not in job and "dow" not in job
    with pytest.raises(ResourceException, match="no options specified"):  # Backup.pm:575-576
        jobs("nightly").put()
    # an update's VMIDs replace the job's other selection (Backup.pm:614-631)
    jobs("nightly").put(vmid="100")
    job = jobs("nightly").get()
    assert job["vmid"] == "100" and "all" not in job and "exclude" not in job
    assert [g["vmid"] for g in pve.cluster("backup-info")("not-backed-up").get()] == [101, 200]


def test_vzdump_defaults_name_the_storage_and_a_wrong_archive_is_no_restore(pve: Any) -> None:
    node = pve.nodes("pve1")
    defaults = node.vzdump.defaults.get()
    # pve-manager PVE/API2/VZDump.pm:231-235, PVE/VZDump.pm:302-312: the schema's defaults, storage 'local'
    assert (defaults["storage"], defaults["mode"], defaults["compress"]) == ("local", "snapshot", "0")
    with pytest.raises(ResourceException, match="can't use storage 'local-lvm' for backups - wrong content type"):
        node.vzdump.defaults.get(storage="local-lvm")  # VZDump.pm:202 (storage_info)
    wait(pve, node.vzdump.post(vmid="200", storage="local"))
    [ct_backup] = _backups(pve)
    # qemu-server QemuServer.pm:7759: a container's archive is no VM backup (the worker fails)
    wrong = wait(pve, node.qemu.post(vmid=400, archive=ct_backup["volid"]))
    path = "/var/lib/vz/dump/" + ct_backup["volid"].partition("/")[2]
    assert wrong["exitstatus"] == f"ERROR: file '{path}' does not look like a QemuServer vzdump backup"
    with pytest.raises(ResourceException, match="does not exist"):  # pve-storage Storage.pm:1861
        node.vzdump.extractconfig.get(volume="local:backup/vzdump-qemu-100-2020_01_01-00_00_00.vma")
    assert "hostname: proxy01\n" in node.vzdump.extractconfig.get(volume=ct_backup["volid"])


@pytest.fixture
def served(tls: tuple[Path, Path, str]) -> Iterator[tuple[Any, MockBackend]]:
    with _serving(tls) as both:
        yield both


def test_retention_prunes_after_a_backup_and_on_demand_as_pve_marks(served: tuple[Any, MockBackend]) -> None:
    pve, backend = served
    node = pve.nodes("pve1")
    with pytest.raises(ResourceException, match="no prune-backups options configured for storage 'local'"):
        node.storage("local").prunebackups.get()  # pve-storage Storage.pm:1986-1987
    pve.storage("local").put(**{"prune-backups": "keep-last=2"})
    made = []
    for _ in range(3):
        upid = node.vzdump.post(vmid="100", storage="local")
        assert wait(pve, upid)["exitstatus"] == "OK"
        made.append([b["volid"] for b in _backups(pve)])
        backend.mock.clock.advance(600)  # a name per backup (its time, to the second)
    first, second, third = (max(m) for m in made)
    assert sorted(b["volid"] for b in _backups(pve)) == [second, third]  # the oldest went
    log = [line["t"] for line in node.tasks(upid).log.get()]
    # pve-manager PVE/VZDump.pm:1245-1277
    assert log[log.index("INFO: prune older backups with retention: keep-last=2"):][:3] == [
        "INFO: prune older backups with retention: keep-last=2", f"INFO: removing backup '{first}'",
        "INFO: pruned 1 backup(s) not covered by keep-retention policy"]
    # without pruning, the retention is a limit (VZDump.pm:984-988)
    full = wait(pve, node.vzdump.post(vmid="100", storage="local", remove=0))
    assert full["exitstatus"] == "job errors"
    assert ("ERROR: Backup of VM 100 failed - There is a max backup limit of 2 enforced by the target storage or "
            "the vzdump parameters. Either increase the limit or delete old backups.") in [
        line["t"] for line in node.tasks(full["upid"]).log.get()]
    # on demand (PruneBackups.pm:160-194): the task removes what the policy does not keep
    upid = node.storage("local").prunebackups.delete(**{"prune-backups": "keep-last=1", "vmid": 100})
    assert upid.split(":")[5:7] == ["prunebackups", "100@local"]  # PruneBackups.pm:187
    assert wait(pve, upid)["exitstatus"] == "OK"
    assert [line["t"] for line in node.tasks(upid).log.get()] == [f"removing backup '{second}'", "TASK OK"]
    assert [b["volid"] for b in _backups(pve)] == [third]
    # a dry run (PruneBackups.pm:81-93, Plugin.pm:2113): a protected backup is never marked for removal
    node.storage("local").content(third).put(protected=1)
    [entry] = node.storage("local").prunebackups.get(**{"prune-backups": "keep-last=1"})
    assert (entry["volid"], entry["mark"], entry["type"], entry["vmid"]) == (third, "protected", "qemu", 100)
