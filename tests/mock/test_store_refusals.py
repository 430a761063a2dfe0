"""What the configuration store refuses, lets through and derives, as PVE's handlers do: digests compared
only where PVE compares them, unknown options deleted or refused by who keeps them, SDN subnets checked by
the subnet plugin, jobs read with what PVE works out from them. Texts and lines cited from PVE's sources."""

from __future__ import annotations

from tests.mock.conftest import PVE

MODIFIED = "detected modified configuration - file changed by other user? Try again.\n"  # Tools.pm:868-873
STALE = "0" * 40


async def test_node_config_without_a_file_has_no_digest_and_deletes_any_name(pve: PVE) -> None:
    """pve-manager PVE/NodeConfig.pm:50-57: no config file reads as {} (no digest to compare);
    PVE/API2/NodeConfig.pm:100-108: the digest is compared when there is one, ``delete`` drops any name."""
    assert "digest" not in await pve.data("GET", "/nodes/pve1/config")
    assert (await pve.put("/nodes/pve1/config", {"description": "one", "digest": STALE})).status_code == 200
    assert (await pve.put("/nodes/pve1/config", {"delete": "description,wake on lan"})).status_code == 200
    assert "description" not in await pve.data("GET", "/nodes/pve1/config")
    await pve.data("PUT", "/nodes/pve1/config", {"description": "two"})
    stale = await pve.put("/nodes/pve1/config", {"description": "three", "digest": STALE})
    assert (stale.status_code, stale.json()["message"]) == (500, MODIFIED)
    assert (await pve.data("GET", "/nodes/pve1/config"))["description"] == "two"


async def test_datacenter_options_delete_any_name_firewall_options_refuse_unknown_ones(pve: PVE) -> None:
    """pve-manager PVE/API2/Cluster.pm:855 deletes each name given; pve-firewall
    src/PVE/API2/Firewall/Cluster.pm:144-148 refuses one the firewall's options do not have."""
    assert (await pve.put("/cluster/options", {"delete": "keyboard,no such"})).status_code == 200
    refused = await pve.put("/cluster/firewall/options", {"delete": "policy_in,log ratelimit"})
    assert refused.status_code == 400 and refused.json()["errors"] == {"delete": "no such option 'log'"}


async def test_ipset_entry_and_alias_deletes_compare_the_digest_first(pve: PVE) -> None:
    """pve-firewall src/PVE/API2/Firewall/IPSet.pm:372-373, Aliases.pm:309-310: a stale digest refuses
    the delete, and nothing is removed."""
    await pve.data("POST", "/cluster/firewall/ipset", {"name": "office"})
    await pve.data("POST", "/cluster/firewall/ipset/office", {"cidr": "10.20.0.0/16"})
    await pve.data("POST", "/cluster/firewall/aliases", {"name": "gw", "cidr": "192.0.2.1"})
    for path in ("/cluster/firewall/ipset/office/10.20.0.0%2F16", "/cluster/firewall/aliases/gw"):
        refused = await pve.delete(path, {"digest": STALE})
        assert (refused.status_code, refused.json()["message"]) == (500, MODIFIED)
        assert (await pve.get(path)).status_code == 200
        # the list's digest (Firewall.pm:1253-1281 copy_list_with_digest); an alias's own read has none
        # (Aliases.pm:197-205)
        digest = (await pve.data("GET", path.rsplit("/", 1)[0]))[0]["digest"]
        assert (await pve.delete(path, {"digest": digest})).status_code == 200


async def test_subnet_dhcp_ranges_are_checked_by_the_subnet_plugin(pve: PVE) -> None:
    """pve-network src/PVE/Network/SDN/SubnetPlugin.pm:87-137 validate_dhcp_ranges (the range's keys are of
    type 'ip', which the validator does not check), raised inside lock_sdn_config (SDN.pm:300-307), so the
    answer is a 500 carrying the exception as text (pve-common src/PVE/Exception.pm:98-116)."""
    await pve.data("POST", "/cluster/sdn/zones", {"zone": "zone7", "type": "vlan", "bridge": "vmbr0"})
    await pve.data("POST", "/cluster/sdn/vnets", {"vnet": "vnet7", "zone": "zone7", "tag": "7"})
    prefix = "create sdn subnet object failed: 400 Parameter verification failed.\ndhcp-range: "
    for ranges, text in (
        (["start-address=10.7.0.100,end-address=10.7.0.300"], "end-address is not a valid IP 10.7.0.300"),
        (["start-address=10.7.0.0/30,end-address=10.7.0.9"], "start-address must be a singular IP"),
        (["start-address=10.7.0.90,end-address=10.7.0.10"],
         "start-address 10.7.0.90 must be smaller than end-address 10.7.0.10"),
        (["start-address=10.7.0.10,end-address=10.7.1.10"], "end-address 10.7.1.10 is not in subnet 10.7.0.0/24"),
        (["start-address=10.7.0.10,end-address=10.7.0.50", "start-address=10.7.0.40,end-address=10.7.0.60"],
         "dhcp ranges must not overlap"),
    ):
        refused = await pve.post("/cluster/sdn/vnets/vnet7/subnets",
                                 {"subnet": "10.7.0.0/24", "type": "subnet", "dhcp-range": ranges})
        assert (refused.status_code, refused.json()["message"]) == (500, prefix + text + "\n")
    assert await pve.data("GET", "/cluster/sdn/vnets/vnet7/subnets") == []
    await pve.data("POST", "/cluster/sdn/vnets/vnet7/subnets", {
        "subnet": "10.7.0.0/24", "type": "subnet", "dhcp-range": ["start-address=10.7.0.10,end-address=10.7.0.50"]})


async def test_replication_jobs_read_with_their_guest_and_number(pve: PVE) -> None:
    """pve-guest-common src/PVE/ReplicationConfig.pm:131-146 parse_config: guest and jobnum come from the id."""
    # a guest replicates ZFS volumes only, the others say replicate=0 (qemu-server QemuConfig.pm:146-171)
    await pve.data("POST", "/storage", {"storage": "tank", "type": "zfspool", "pool": "rpool/data",
                                        "content": "images,rootdir"})
    await pve.data("POST", "/nodes/pve1/qemu/100/config", {
        "scsi0": "local-lvm:vm-100-disk-0,size=32G,replicate=0", "scsi1": "tank:1"})
    await pve.data("POST", "/cluster/replication", {"id": "100-2", "type": "local", "target": "pve2"})
    job = await pve.data("GET", "/cluster/replication/100-2")
    assert (job["guest"], job["jobnum"]) == (100, 2)
    listed = await pve.data("GET", "/cluster/replication")
    assert [(j["id"], j["guest"], j["jobnum"]) for j in listed] == [("100-2", 100, 2)]


async def test_a_backup_jobs_included_volumes_are_the_clusters(pve: PVE) -> None:
    """pve-manager PVE/API2/Backup.pm:656-848: the job's guests (VZDump.pm get_included_guests) with their
    disks as qemu-server QemuConfig.pm:181-210 and pve-container LXC/Config.pm mountpoint_backup_enabled
    judge them; a listed VMID without a guest is 'unknown'. No guest is invented."""
    await pve.data("PUT", "/nodes/pve1/qemu/100/config", {"scsi1": "local-lvm:1,backup=0"})
    await pve.data("PUT", "/nodes/pve1/lxc/200/config", {"mp0": "/srv/data,mp=/data"})
    await pve.data("POST", "/cluster/backup", {"id": "job1", "schedule": "daily", "vmid": "100,200,999",
                                               "storage": "local"})
    tree = await pve.data("GET", "/cluster/backup/job1/included_volumes")
    assert [(g["id"], g["type"], g.get("name")) for g in tree["children"]] == [
        (100, "qemu", "web01"), (200, "lxc", "proxy01"), (999, "unknown", None)]
    vm, ct = tree["children"][0]["children"], tree["children"][1]["children"]
    assert [(v["id"], v["name"], v["included"], v["reason"]) for v in vm] == [
        ("100:scsi0", "local-lvm:vm-100-disk-0", 1, "backup=yes"),
        ("100:scsi1", "local-lvm:vm-100-disk-1", 0, "backup=no")]
    assert [(v["id"], v["included"], v["reason"]) for v in ct] == [
        ("200:rootfs", 1, "rootfs"), ("200:mp0", 0, "not a volume")]
