"""prometheus-pve-exporter, the Prometheus exporter for PVE, scraping the served mock with every
collector on (what a default `pve_exporter` module config does), over TLS as it runs in production.

The oracle is the exporter's own code: it parses what PVE answers (dates, configs, task lists) and
raises on anything else; the figures it exports must be the cluster's.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from pve_exporter.collector import CollectorsOptions, collect_pve

from pvegateway import statedir
from pvegateway.testing import DEFAULT_PASSWORD, mock_gateway
from tests.live import live_server

ALL = CollectorsOptions(status=True, version=True, subscription=True, node=True, cluster=True, resources=True,
                        backup_info=True, config=True, replication=True, qdevice=True)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    return statedir.certificate(tmp_path_factory.mktemp("tls"))


@contextlib.contextmanager
def exporter_config(certificate: tuple[Path, Path, str]) -> Iterator[dict[str, Any]]:
    cert, key, _ = certificate
    with live_server(mock_gateway(secret=b"exporter"), certfile=str(cert), keyfile=str(key)) as url:
        port = int(url.rsplit(":", 1)[1])
        yield {"user": "root@pam", "password": DEFAULT_PASSWORD, "verify_ssl": str(cert), "port": port}


def scrape(config: dict[str, Any], node: str = "pve1") -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = collect_pve(config, "127.0.0.1", True, node, ALL).decode()
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], metric: str, **labels: str) -> float:
    found = [v for (n, ls), v in samples.items() if n == metric and set(labels.items()) <= set(ls)]
    assert len(found) == 1, (metric, labels, found)
    return found[0]


def test_every_collector_scrapes_the_seeded_cluster(certificate: tuple[Path, Path, str]) -> None:
    with exporter_config(certificate) as config:
        samples = scrape(config)
    # the default seed (pvegateway/backends/mock/seed.py): VM 100 and CT 200 run, VM 101 is stopped
    assert value(samples, "pve_up", id="qemu/100") == 1
    assert value(samples, "pve_up", id="qemu/101") == 0
    assert value(samples, "pve_up", id="lxc/200") == 1
    assert value(samples, "pve_up", id="node/pve1") == 1
    assert value(samples, "pve_memory_size_bytes", id="qemu/101") == 4096 * 1024**2
    assert value(samples, "pve_disk_size_bytes", id="storage/pve1/local-lvm") == 400 * 1024**3
    assert {ls for n, ls in samples if n == "pve_guest_info"} >= {
        ls for n, ls in samples if n == "pve_guest_info" and dict(ls).get("id") in ("qemu/100", "qemu/101", "lxc/200")}
    assert value(samples, "pve_version_info") == 1
    assert value(samples, "pve_node_info", name="pve1") == 1
    # no subscription key: the exporter reads the status and, when there is one, parses the due date
    assert value(samples, "pve_subscription_status", id="node/pve1", status="notfound") == 1
    # no backup job covers any guest yet: all three are "not backed up"
    assert sum(v for (n, _), v in samples.items() if n == "pve_not_backed_up_total") == 3


def test_the_exporter_follows_jobs_and_configs(certificate: tuple[Path, Path, str]) -> None:
    """A backup job, a replication job and `onboot`, made through the API with proxmoxer (the exporter's
    own client), show up in the exporter's figures as PVE's would."""
    from proxmoxer import ProxmoxAPI

    with exporter_config(certificate) as config:
        prox = ProxmoxAPI("127.0.0.1", **config)
        prox.cluster.backup.post(schedule="daily", storage="local", vmid="100", mode="snapshot")
        # a guest replicates ZFS volumes only, the others say replicate=0 (qemu-server QemuConfig.pm:146-171)
        prox.storage.post(storage="tank", type="zfspool", pool="rpool/data", content="images,rootdir")
        prox.nodes("pve1").qemu(100).config.post(scsi0="local-lvm:vm-100-disk-0,size=32G,replicate=0",
                                                 scsi1="tank:1")
        prox.cluster.replication.post(id="100-0", type="local", target="pve2", schedule="*/15")
        prox.nodes("pve1").lxc(200).config.put(onboot=1)
        samples = scrape(config)
        prox._store["session"].close()
    # pve-manager PVE/API2/BackupInfo.pm: guests no enabled job selects; 100 is now covered
    assert value(samples, "pve_not_backed_up_total") == 2
    assert {dict(ls)["id"] for n, ls in samples if n == "pve_not_backed_up_info"} == {"qemu/101", "lxc/200"}
    assert value(samples, "pve_onboot_status", id="lxc/200") == 1  # guests of the node answering
    # pve-manager PVE/API2/Replication.pm job_status: the job of VM 100 (on pve1, the node answering)
    info = [dict(ls) for n, ls in samples if n == "pve_replication_info"]
    assert info == [{"id": "100-0", "type": "local", "source": "node/pve1", "target": "node/pve2",
                     "guest": "qemu/100"}]
    assert value(samples, "pve_replication_failed_syncs", id="100-0") == 0
